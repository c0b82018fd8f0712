#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <limits>
#include <vector>

#include "engine/sampling/sampler.h"
#include "tests/engine/sampling/sampling_test_util.h"

namespace deltaserve {
namespace {

using sampling_test::Greedy;
using sampling_test::GreedyTokens;
using sampling_test::RandomLogits;

std::vector<int32_t> SampledOneByOne(const at::Tensor& rows) {
  std::vector<int32_t> tokens;
  for (int64_t row = 0; row < rows.size(0); ++row) {
    SamplerRng rng(0);
    tokens.push_back(SampleToken(rows[row], {}, 0, Greedy(), rng).token);
  }
  return tokens;
}

TEST(GreedyTokensMatchSampleTokenTest, SameTokensAsTheHostSamplerInFloatAndBfloat16) {
  const at::Tensor rows = at::tensor(RandomLogits(8 * 5000, 3)).view({8, 5000});
  EXPECT_EQ(GreedyTokens(rows), SampledOneByOne(rows));
  const at::Tensor bf16 = rows.to(at::kBFloat16);
  EXPECT_EQ(GreedyTokens(bf16), SampledOneByOne(bf16));
}

TEST(GreedyTokensMatchSampleTokenTest, TiesGoToTheLowestIdAndNaNIsNeverChosen) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor rows = at::tensor(std::vector<float>{1.0f, 5.0f, 3.0f, 5.0f,  //
                                                        nan, 0.5f, 2.0f, nan,    //
                                                        nan, nan, nan, -1.0f})
                              .view({3, 4});
  EXPECT_EQ(GreedyTokens(rows), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(GreedyTokens(rows), SampledOneByOne(rows));
}

TEST(GreedyTokensMatchSampleTokenTest, PlainGreedyMeansNothingButTheArgmax) {
  EXPECT_TRUE(IsPlainGreedy(Greedy()));
  SamplingParams sampled;  // temperature 1
  EXPECT_FALSE(IsPlainGreedy(sampled));
  for (auto change : {+[](SamplingParams& p) { p.repetition_penalty = 1.1f; },
                      +[](SamplingParams& p) { p.presence_penalty = 0.5f; },
                      +[](SamplingParams& p) { p.frequency_penalty = 0.5f; },
                      +[](SamplingParams& p) { p.logprobs = 1; }}) {
    SamplingParams params = Greedy();
    change(params);
    EXPECT_FALSE(IsPlainGreedy(params));
  }
}

}  // namespace
}  // namespace deltaserve
