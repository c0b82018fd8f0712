#pragma once

#include <ATen/core/Tensor.h>

#include "engine/model/model_config.h"

namespace deltaserve {

// Rotary position embedding exactly as transformers' LlamaRotaryEmbedding computes it:
// inv_freq in float32 (default, linear or llama3 scaling), cos/sin of
// position * inv_freq in float32, and the half-split rotation (rotate_half).
class RotaryEmbedding {
 public:
  explicit RotaryEmbedding(const ModelConfig& config);

  // [head_dim / 2] float32.
  const at::Tensor& inverse_frequencies() const { return inv_freq_; }

  // Rotates q [T, H, d] and k [T, Hkv, d] in place; positions [T] int64.
  void Apply(at::Tensor& q, at::Tensor& k, const at::Tensor& positions) const;

 private:
  at::Tensor inv_freq_;
};

// inv_freq for a config; exposed for tests against the formulas.
at::Tensor RopeInverseFrequencies(const ModelConfig& config);

}  // namespace deltaserve
