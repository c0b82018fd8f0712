#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <utility>
#include <vector>

#include "engine/sampling/sampler.h"
#include "tests/engine/sampling/sampling_test_util.h"

namespace deltaserve {
namespace {

using sampling_test::LogitsTensor;
using sampling_test::RandomLogits;

constexpr double kTolerance = 1e-5;

std::vector<double> ReferenceLogSoftmax(const std::vector<float>& logits) {
  const at::Tensor reference = at::log_softmax(LogitsTensor(logits).to(at::kDouble), 0);
  return std::vector<double>(reference.data_ptr<double>(),
                             reference.data_ptr<double>() + reference.numel());
}

// Sampling settings that change everything after the raw logits, which logprobs must ignore.
SamplingParams HeavilyProcessed(int32_t logprobs) {
  SamplingParams params;
  params.temperature = 0.6f;
  params.top_k = 20;
  params.top_p = 0.9f;
  params.repetition_penalty = 1.4f;
  params.frequency_penalty = 0.7f;
  params.logprobs = logprobs;
  return params;
}

SampledToken SampleOnce(const std::vector<float>& logits, const SamplingParams& params,
                        uint64_t seed) {
  const std::vector<int32_t> history = {1, 2, 3, 3};
  SamplerRng rng(seed);
  return SampleToken(LogitsTensor(logits), history, 2, params, rng);
}

TEST(LogprobsAreRawLogSoftmaxTest, ChosenTokenLogprobIgnoresPenaltiesAndTemperature) {
  const std::vector<float> logits = RandomLogits(500, 1);
  const std::vector<double> reference = ReferenceLogSoftmax(logits);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const SampledToken sampled = SampleOnce(logits, HeavilyProcessed(1), seed);
    EXPECT_NEAR(sampled.logprob, reference[sampled.token], kTolerance) << "seed " << seed;
  }
}

TEST(LogprobsAreRawLogSoftmaxTest, TopLogprobsAreTheBestRawTokensBestFirst) {
  const std::vector<float> logits = RandomLogits(500, 2);
  const std::vector<double> reference = ReferenceLogSoftmax(logits);
  std::vector<int32_t> ranked(logits.size());
  std::iota(ranked.begin(), ranked.end(), 0);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&reference](int32_t a, int32_t b) { return reference[a] > reference[b]; });

  const SampledToken sampled = SampleOnce(logits, HeavilyProcessed(5), 3);
  ASSERT_EQ(sampled.top_logprobs.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(sampled.top_logprobs[i].first, ranked[i]) << "rank " << i;
    EXPECT_NEAR(sampled.top_logprobs[i].second, reference[ranked[i]], kTolerance) << "rank " << i;
  }
}

TEST(LogprobsAreRawLogSoftmaxTest, TopLogprobTiesGoToLowerId) {
  SamplingParams params;
  params.logprobs = 2;
  SamplerRng rng(0);
  const SampledToken sampled =
      SampleToken(LogitsTensor({1.0f, 3.0f, 3.0f, 0.0f, 3.0f}), {}, 0, params, rng);
  ASSERT_EQ(sampled.top_logprobs.size(), 2u);
  EXPECT_EQ(sampled.top_logprobs[0].first, 1);
  EXPECT_EQ(sampled.top_logprobs[1].first, 2);
}

TEST(LogprobsAreRawLogSoftmaxTest, ZeroLogprobsReportsNoAlternatives) {
  EXPECT_TRUE(SampleOnce(RandomLogits(50, 4), HeavilyProcessed(0), 0).top_logprobs.empty());
}

TEST(LogprobsAreRawLogSoftmaxTest, MoreLogprobsThanVocabularyReportsEveryToken) {
  SamplingParams params;
  params.logprobs = 10;
  SamplerRng rng(0);
  EXPECT_EQ(SampleToken(LogitsTensor({0.0f, 1.0f, 2.0f}), {}, 0, params, rng).top_logprobs.size(),
            3u);
}

}  // namespace
}  // namespace deltaserve
