#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "engine/sampling/sampler.h"
#include "tests/engine/sampling/sampling_test_util.h"

namespace deltaserve {
namespace {

using sampling_test::Greedy;
using sampling_test::RandomLogits;

// The GPU hands the sampler its logits in bfloat16, as rows of a [N, vocab] tensor; the
// same values in float32 must give the same token, logprob and alternatives.
SampledToken SampleRow(const at::Tensor& row, const SamplingParams& params, uint64_t seed) {
  SamplerRng rng(seed);
  const std::vector<int32_t> history = {3, 3, 9};
  return SampleToken(row, history, 1, params, rng);
}

TEST(Bfloat16RowsSampleLikeFloatTest, SameTokensLogprobsAndAlternatives) {
  const at::Tensor batch = at::tensor(RandomLogits(4 * 3000, 5)).view({4, 3000}).to(at::kBFloat16);
  SamplingParams params;
  params.temperature = 0.8f;
  params.top_p = 0.9f;
  params.repetition_penalty = 1.3f;
  params.logprobs = 3;
  for (int64_t row = 0; row < batch.size(0); ++row) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      const SampledToken from_bf16 = SampleRow(batch[row], params, seed);
      const SampledToken from_float = SampleRow(batch[row].to(at::kFloat), params, seed);
      EXPECT_EQ(from_bf16.token, from_float.token) << "row " << row << " seed " << seed;
      EXPECT_FLOAT_EQ(from_bf16.logprob, from_float.logprob);
      EXPECT_EQ(from_bf16.top_logprobs, from_float.top_logprobs);
    }
  }
}

TEST(Bfloat16RowsSampleLikeFloatTest, GreedyPicksTheLowestIdAmongEqualMaxima) {
  // 1.0 and 1.001 round to the same bfloat16: a tie, which the lower id wins.
  const at::Tensor row = at::tensor(std::vector<float>{0.5f, 1.0f, 1.001f, -2.0f}).to(at::kBFloat16);
  EXPECT_EQ(SampleRow(row, Greedy(), 0).token, 1);
}

TEST(Bfloat16RowsSampleLikeFloatTest, NaNInABfloat16RowIsNeverChosen) {
  const at::Tensor row =
      at::tensor(std::vector<float>{std::numeric_limits<float>::quiet_NaN(), 0.25f, 0.5f}).to(at::kBFloat16);
  EXPECT_EQ(SampleRow(row, Greedy(), 0).token, 2);
}

}  // namespace
}  // namespace deltaserve
