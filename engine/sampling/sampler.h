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
  // the logits before temperature, penalties and truncation), as vLLM reports it. It and
  // top_logprobs are filled only when params.logprobs > 0, the only case they are reported.
  float logprob = 0.0f;
  // The params.logprobs most likely tokens of that raw distribution, best first.
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

// The per-sequence random state. Seeded from params.seed when given, so the same seed
// gives the same tokens whatever else runs in the batch.
class SamplerRng {
 public:
  explicit SamplerRng(uint64_t seed) : engine_(seed) {}
  // The top 53 bits of one draw, so the same seed gives the same value with every
  // standard library (std::uniform_real_distribution's algorithm is unspecified).
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 engine_;
};

// Picks the next token of one sequence from its logits [vocab] (float32 or bfloat16, CPU).
// `history` is the prompt followed by the tokens generated so far (penalties use it:
// repetition over both, presence and frequency over the generated part only,
// `generated_count` long at the end of history).
SampledToken SampleToken(const at::Tensor& logits, absl::Span<const int32_t> history,
                         size_t generated_count, const SamplingParams& params, SamplerRng& rng);

// Whether SampleToken would return the row's argmax and nothing else: greedy, no
// penalty, no logprobs. Such rows can be decided where the logits are (GreedyTokenIds).
bool IsPlainGreedy(const SamplingParams& params);

// SampleToken's token for every row of `logits` [N, vocab] under plain greedy params, as
// [N] int64 on the logits' device: the lowest id among each row's largest logits, NaN
// never chosen. Only N ids need reach the host instead of the whole rows, and a pass
// launched before they do can read them where they are.
at::Tensor GreedyTokenIds(const at::Tensor& logits);

// The penalty step of SampleToken, in place on `logits` [vocab] (exposed for tests):
// repetition (HF/vLLM: positive logits divided by the penalty, the others multiplied) on
// every distinct token of `history`, then `logit -= presence * (count > 0) + frequency *
// count` with `count` its occurrences among the last `generated_count` tokens. Ids outside
// [0, vocab) are skipped.
void ApplyPenalties(absl::Span<float> logits, absl::Span<const int32_t> history,
                    size_t generated_count, const SamplingParams& params);

}  // namespace deltaserve
