#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/types/span.h"
#include "engine/sampling/sampling_params.h"

namespace deltaserve {

struct SampledToken {
  int32_t token = 0;
  // log-probability of `token` under the model's raw distribution (log_softmax of
  // the logits before temperature, penalties and truncation), as vLLM reports it.
  float logprob = 0.0f;
  // The params.logprobs most likely tokens of that raw distribution, best first.
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

// The per-sequence random state. Seeded from params.seed when given, so the same seed
// gives the same tokens whatever else runs in the batch.
class SamplerRng {
 public:
  explicit SamplerRng(uint64_t seed) : engine_(seed) {}
  double Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }

 private:
  std::mt19937_64 engine_;
};

// Picks the next token of one sequence from its logits [vocab] (float32, CPU).
// `history` is the prompt followed by the tokens generated so far (penalties use it:
// repetition over both, presence and frequency over the generated part only,
// `generated_count` long at the end of history).
SampledToken SampleToken(const at::Tensor& logits, absl::Span<const int32_t> history,
                         size_t generated_count, const SamplingParams& params, SamplerRng& rng);

}  // namespace deltaserve
