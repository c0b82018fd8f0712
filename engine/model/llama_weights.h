#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "engine/model/model_config.h"

namespace deltaserve {

// Hugging Face layout: every linear weight is [out_features, in_features].
struct LlamaLayerWeights {
  at::Tensor input_layernorm;           // [hidden]
  at::Tensor q_proj;                    // [H * d, hidden]
  at::Tensor k_proj;                    // [Hkv * d, hidden]
  at::Tensor v_proj;                    // [Hkv * d, hidden]
  at::Tensor o_proj;                    // [hidden, H * d]
  at::Tensor post_attention_layernorm;  // [hidden]
  at::Tensor gate_proj;                 // [ffn, hidden]
  at::Tensor up_proj;                   // [ffn, hidden]
  at::Tensor down_proj;                 // [hidden, ffn]
};

// float32, contiguous, CPU. Tensors may alias a memory-mapped checkpoint, which
// `mapping` keeps alive.
struct LlamaWeights {
  at::Tensor embed_tokens;  // [vocab, hidden]
  std::vector<LlamaLayerWeights> layers;
  at::Tensor norm;     // [hidden]
  at::Tensor lm_head;  // [vocab, hidden]; the same tensor as embed_tokens when tied
  std::shared_ptr<const void> mapping;
};

// Loads model.safetensors or the shards of model.safetensors.index.json from dir,
// checking every tensor's name, shape and dtype against config.
absl::StatusOr<LlamaWeights> LoadLlamaWeights(const std::filesystem::path& dir,
                                              const ModelConfig& config);

// Seeded random weights of config's shapes (--load-format dummy).
LlamaWeights MakeDummyLlamaWeights(const ModelConfig& config, uint64_t seed);

}  // namespace deltaserve
