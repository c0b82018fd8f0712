#include "engine/model/llama_model.h"

#include <ATen/ATen.h>

#include <utility>

namespace deltaserve {

LlamaModel::LlamaModel(ModelConfig config, LlamaWeights weights)
    : LlamaModel(config, std::move(weights), at::TensorOptions(at::kFloat),
                 std::make_unique<CpuLayerKernels>(config.rms_norm_eps)) {}

LlamaModel::LlamaModel(ModelConfig config, LlamaWeights weights, at::TensorOptions placement,
                       std::unique_ptr<const LayerKernels> kernels)
    : config_(std::move(config)), kernels_(std::move(kernels)), mapping_(std::move(weights.mapping)) {
  auto place = [&placement](at::Tensor& tensor) {
    at::Tensor placed = tensor.to(placement);
    tensor = at::Tensor();  // the host copy goes as soon as it is placed
    return placed;
  };
  const bool tied = weights.lm_head.is_same(weights.embed_tokens);
  embed_tokens_ = place(weights.embed_tokens);
  lm_head_ = tied ? embed_tokens_ : place(weights.lm_head);
  norm_ = place(weights.norm);
  layers_.reserve(weights.layers.size());
  for (LlamaLayerWeights& w : weights.layers) {
    at::Tensor qkv = at::cat({w.q_proj, w.k_proj, w.v_proj}, 0);
    at::Tensor gate_up = at::cat({w.gate_proj, w.up_proj}, 0);
    w.q_proj = w.k_proj = w.v_proj = w.gate_proj = w.up_proj = at::Tensor();
    layers_.push_back(Layer{place(w.input_layernorm), place(qkv), place(w.o_proj), place(w.post_attention_layernorm),
                            place(gate_up), place(w.down_proj)});
  }
}

at::Tensor LlamaModel::Attention(int64_t layer, const at::Tensor& hidden, const AttentionBatch& batch,
                                 AttentionBackend& attention) const {
  const int64_t tokens = hidden.size(0);
  const int64_t d = config_.head_dim;
  const int64_t heads = config_.num_attention_heads;
  const int64_t kv_heads = config_.num_key_value_heads;
  at::Tensor qkv = at::linear(hidden, layers_[layer].qkv_proj);
  at::Tensor q = qkv.slice(1, 0, heads * d).view({tokens, heads, d});
  at::Tensor k = qkv.slice(1, heads * d, (heads + kv_heads) * d).view({tokens, kv_heads, d});
  at::Tensor v = qkv.slice(1, (heads + kv_heads) * d).view({tokens, kv_heads, d});
  at::Tensor out = attention.Forward(layer, q, k, v, batch);
  return at::linear(out.reshape({tokens, heads * d}), layers_[layer].o_proj);
}

at::Tensor LlamaModel::Mlp(const Layer& layer, const at::Tensor& hidden) const {
  return at::linear(kernels_->SiluMul(at::linear(hidden, layer.gate_up_proj)), layer.down_proj);
}

at::Tensor LlamaModel::Forward(const ForwardBatch& batch, AttentionBackend& attention) const {
  attention.BeginForward(batch.attention);
  return ForwardOnDevice(batch.token_ids.to(device()), batch.logit_rows.to(device()), batch.attention, attention);
}

at::Tensor LlamaModel::ForwardOnDevice(const at::Tensor& token_ids, const at::Tensor& logit_rows,
                                       const AttentionBatch& batch, AttentionBackend& attention) const {
  at::Tensor hidden = embed_tokens_.index_select(0, token_ids);
  at::Tensor residual;
  for (int64_t i = 0; i < static_cast<int64_t>(layers_.size()); ++i) {
    hidden = Attention(i, kernels_->AddRmsNorm(hidden, residual, layers_[i].input_norm), batch, attention);
    hidden = Mlp(layers_[i], kernels_->AddRmsNorm(hidden, residual, layers_[i].post_attention_norm));
  }
  return at::linear(kernels_->AddRmsNorm(hidden, residual, norm_).index_select(0, logit_rows), lm_head_);
}

}  // namespace deltaserve
