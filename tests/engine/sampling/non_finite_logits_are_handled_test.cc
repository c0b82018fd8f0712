#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <vector>

#include "engine/sampling/sampler.h"
#include "tests/engine/sampling/sampling_test_util.h"

namespace deltaserve {
namespace {

using sampling_test::DrawTokens;
using sampling_test::Greedy;
using sampling_test::LogitsTensor;

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

TEST(NonFiniteLogitsAreHandledTest, NaNTokensAreNeverSampled) {
  const std::vector<float> logits = {kNaN, 0.0f, kNaN, 0.5f, kNaN};
  const std::vector<int32_t> tokens = DrawTokens(logits, SamplingParams{}, 1, 500);
  EXPECT_EQ(std::set<int32_t>(tokens.begin(), tokens.end()), (std::set<int32_t>{1, 3}));
  EXPECT_EQ(DrawTokens(logits, Greedy(), 1, 1).front(), 3);
}

TEST(NonFiniteLogitsAreHandledTest, InfiniteLogitIsAlwaysSampled) {
  const std::vector<int32_t> tokens = DrawTokens({0.0f, kInf, 1.0f}, SamplingParams{}, 2, 200);
  EXPECT_EQ(std::set<int32_t>(tokens.begin(), tokens.end()), (std::set<int32_t>{1}));
}

TEST(NonFiniteLogitsAreHandledTest, FullyMaskedRowStillGivesATokenOfTheVocabulary) {
  SamplingParams params;
  params.top_p = 0.5f;
  params.min_p = 0.1f;
  params.logprobs = 2;
  const std::vector<int32_t> tokens = DrawTokens({-kInf, -kInf, -kInf}, params, 3, 50);
  for (int32_t token : tokens) EXPECT_TRUE(token >= 0 && token < 3) << token;
}

TEST(NonFiniteLogitsAreHandledTest, NonFloatRowIsConvertedFirst) {
  SamplerRng rng(0);
  const at::Tensor doubles = LogitsTensor({0.0f, 2.0f, 1.0f}).to(at::kDouble);
  EXPECT_EQ(SampleToken(doubles, {}, 0, Greedy(), rng).token, 1);
}

}  // namespace
}  // namespace deltaserve
