#include "engine/model/llama_model.h"

#include <ATen/ATen.h>

#include <utility>

#include "engine/util/device_copy.h"

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

void LlamaModel::Attention(int64_t layer, at::Tensor& residual, const AttentionBatch& batch,
                           AttentionBackend& attention) const {
  const Layer& weights = layers_[layer];
  const int64_t tokens = residual.size(0);
  const int64_t d = config_.head_dim;
  const int64_t heads = config_.num_attention_heads;
  const int64_t kv_heads = config_.num_key_value_heads;
  at::Tensor qkv = at::linear(kernels_->RmsNorm(residual, weights.input_norm), weights.qkv_proj);
  at::Tensor q = qkv.slice(1, 0, heads * d).view({tokens, heads, d});
  at::Tensor k = qkv.slice(1, heads * d, (heads + kv_heads) * d).view({tokens, kv_heads, d});
  at::Tensor v = qkv.slice(1, (heads + kv_heads) * d).view({tokens, kv_heads, d});
  at::Tensor out = attention.Forward(layer, q, k, v, batch);
  residual.addmm_(out.reshape({tokens, heads * d}), weights.o_proj.t());
}

void LlamaModel::Mlp(const Layer& layer, at::Tensor& residual) const {
  at::Tensor gate_up = at::linear(kernels_->RmsNorm(residual, layer.post_attention_norm), layer.gate_up_proj);
  residual.addmm_(kernels_->SiluMul(gate_up), layer.down_proj.t());
}

at::Tensor LlamaModel::Forward(const ForwardBatch& batch, AttentionBackend& attention) const {
  attention.BeginForward(batch.attention);
  return ForwardOnDevice(CopyToDevice(batch.token_ids, device()), CopyToDevice(batch.logit_rows, device()),
                         batch.attention, attention);
}

at::Tensor LlamaModel::ForwardOnDevice(const at::Tensor& token_ids, const at::Tensor& logit_rows,
                                       const AttentionBatch& batch, AttentionBackend& attention) const {
  // index_select's output is a fresh tensor, so the layers may add to it in place.
  at::Tensor residual = embed_tokens_.index_select(0, token_ids);
  for (int64_t i = 0; i < static_cast<int64_t>(layers_.size()); ++i) {
    Attention(i, residual, batch, attention);
    Mlp(layers_[i], residual);
  }
  return at::linear(kernels_->RmsNorm(residual, norm_).index_select(0, logit_rows), lm_head_);
}

}  // namespace deltaserve
