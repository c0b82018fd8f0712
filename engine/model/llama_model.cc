#include "engine/model/llama_model.h"

#include <ATen/ATen.h>

#include <utility>

namespace deltaserve {

LlamaModel::LlamaModel(ModelConfig config, LlamaWeights weights)
    : config_(std::move(config)),
      rope_(config_),
      embed_tokens_(std::move(weights.embed_tokens)),
      norm_(std::move(weights.norm)),
      lm_head_(std::move(weights.lm_head)),
      mapping_(std::move(weights.mapping)) {
  layers_.reserve(weights.layers.size());
  for (LlamaLayerWeights& w : weights.layers) {
    layers_.push_back(Layer{
        std::move(w.input_layernorm),
        at::cat({w.q_proj, w.k_proj, w.v_proj}, 0),
        std::move(w.o_proj),
        std::move(w.post_attention_layernorm),
        at::cat({w.gate_proj, w.up_proj}, 0),
        std::move(w.down_proj),
    });
  }
}

at::Tensor LlamaModel::RmsNorm(const at::Tensor& x, const at::Tensor& weight) const {
  at::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  return x.mul(at::rsqrt(variance.add(config_.rms_norm_eps))).mul_(weight);
}

at::Tensor LlamaModel::Attention(int64_t layer, const at::Tensor& hidden, const ForwardBatch& batch,
                                 AttentionBackend& attention) const {
  const int64_t tokens = hidden.size(0);
  const int64_t d = config_.head_dim;
  const int64_t heads = config_.num_attention_heads;
  const int64_t kv_heads = config_.num_key_value_heads;
  at::Tensor qkv = at::linear(hidden, layers_[layer].qkv_proj);
  at::Tensor q = qkv.slice(1, 0, heads * d).reshape({tokens, heads, d});
  at::Tensor k = qkv.slice(1, heads * d, (heads + kv_heads) * d).reshape({tokens, kv_heads, d});
  at::Tensor v = qkv.slice(1, (heads + kv_heads) * d).reshape({tokens, kv_heads, d});
  rope_.Apply(q, k, batch.positions);
  at::Tensor out = attention.Forward(layer, q, k, v, batch.attention);
  return at::linear(out.reshape({tokens, heads * d}), layers_[layer].o_proj);
}

at::Tensor LlamaModel::Mlp(const Layer& layer, const at::Tensor& hidden) const {
  at::Tensor gate_up = at::linear(hidden, layer.gate_up_proj);
  const int64_t ffn = config_.intermediate_size;
  return at::linear(at::silu(gate_up.slice(1, 0, ffn)).mul_(gate_up.slice(1, ffn)), layer.down_proj);
}

at::Tensor LlamaModel::Forward(const ForwardBatch& batch, AttentionBackend& attention) const {
  at::Tensor hidden = embed_tokens_.index_select(0, batch.token_ids);
  for (int64_t i = 0; i < static_cast<int64_t>(layers_.size()); ++i) {
    hidden = hidden.add(Attention(i, RmsNorm(hidden, layers_[i].input_norm), batch, attention));
    hidden = hidden.add(Mlp(layers_[i], RmsNorm(hidden, layers_[i].post_attention_norm)));
  }
  at::Tensor last = RmsNorm(hidden.index_select(0, batch.logit_rows), norm_);
  return at::linear(last, lm_head_);
}

}  // namespace deltaserve
