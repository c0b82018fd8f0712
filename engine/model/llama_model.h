#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include "engine/model/attention_backend.h"
#include "engine/model/layer_kernels.h"
#include "engine/model/llama_weights.h"
#include "engine/model/model_config.h"

namespace deltaserve {

// The rows of one forward step: tokens of many sequences laid end to end. Host tensors.
struct ForwardBatch {
  at::Tensor token_ids;  // [T] int64
  AttentionBatch attention;
  at::Tensor logit_rows;  // [N] int64: the rows whose next-token logits are wanted
};

// The Llama decoder (embedding, RMSNorm, RoPE, GQA attention, SwiGLU MLP, final norm,
// tied or untied head) as transformers computes it, on libtorch.
class LlamaModel {
 public:
  // float32 on the CPU.
  LlamaModel(ModelConfig config, LlamaWeights weights);
  // The weights converted to placement's dtype and device as they are taken (the host
  // copies are released one layer at a time); kernels must run on that device.
  LlamaModel(ModelConfig config, LlamaWeights weights, at::TensorOptions placement,
             std::unique_ptr<const LayerKernels> kernels);

  // Logits [N, vocab] for batch.logit_rows, on the model's device in its dtype.
  at::Tensor Forward(const ForwardBatch& batch, AttentionBackend& attention) const;

  // The layers alone, for a caller that prepared the attention backend itself (a CUDA
  // graph capture): token_ids [T] and logit_rows [N] int64 on the model's device, and
  // the logits [N, vocab] stay there in the model's dtype.
  at::Tensor ForwardOnDevice(const at::Tensor& token_ids, const at::Tensor& logit_rows, const AttentionBatch& batch,
                             AttentionBackend& attention) const;

  at::Device device() const { return embed_tokens_.device(); }

  const ModelConfig& config() const { return config_; }

 private:
  // Fused projections: one GEMM for q, k and v, one for gate and up.
  struct Layer {
    at::Tensor input_norm;
    at::Tensor qkv_proj;  // [(H + 2 Hkv) d, hidden]
    at::Tensor o_proj;
    at::Tensor post_attention_norm;
    at::Tensor gate_up_proj;  // [2 ffn, hidden]
    at::Tensor down_proj;
  };

  // Each block adds its output to the residual stream [T, hidden] in its last GEMM
  // (addmm_, beta = 1): the GEMM reads the stream while compute-bound, where a separate
  // add would read and write it once more per block.
  void Attention(int64_t layer, at::Tensor& residual, const AttentionBatch& batch, AttentionBackend& attention) const;
  void Mlp(const Layer& layer, at::Tensor& residual) const;

  ModelConfig config_;
  std::unique_ptr<const LayerKernels> kernels_;
  at::Tensor embed_tokens_;
  std::vector<Layer> layers_;
  at::Tensor norm_;
  at::Tensor lm_head_;
  std::shared_ptr<const void> mapping_;
};

}  // namespace deltaserve
