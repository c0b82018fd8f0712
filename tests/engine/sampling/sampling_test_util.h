#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <vector>

#include "engine/sampling/sampler.h"

namespace deltaserve::sampling_test {

// Temperature 0 and nothing else: SampleToken returns the row's argmax.
inline SamplingParams Greedy() {
  SamplingParams params;
  params.temperature = 0.0f;
  return params;
}

// GreedyTokenIds' ids, on the host.
inline std::vector<int32_t> GreedyTokens(const at::Tensor& logits) {
  const at::Tensor ids = GreedyTokenIds(logits).to(at::kCPU, at::kInt);
  return std::vector<int32_t>(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
}

inline at::Tensor LogitsTensor(const std::vector<float>& values) { return at::tensor(values); }

// Normal(0, scale) logits, reproducible from `seed`.
inline std::vector<float> RandomLogits(size_t vocab, uint32_t seed, float scale = 3.0f) {
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> logits(vocab);
  for (float& logit : logits) logit = normal(engine);
  return logits;
}

// `draws` tokens sampled one after another from the same logits with no history, the way
// one sequence with a constant distribution would draw them.
inline std::vector<int32_t> DrawTokens(const std::vector<float>& logits,
                                       const SamplingParams& params, uint64_t seed, int draws) {
  const at::Tensor row = LogitsTensor(logits);
  SamplerRng rng(seed);
  std::vector<int32_t> tokens;
  for (int i = 0; i < draws; ++i) tokens.push_back(SampleToken(row, {}, 0, params, rng).token);
  return tokens;
}

}  // namespace deltaserve::sampling_test
