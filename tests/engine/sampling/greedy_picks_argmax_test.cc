#include <gtest/gtest.h>

#include <algorithm>

#include "engine/sampling/sampler.h"
#include "tests/engine/sampling/sampling_test_util.h"

namespace deltaserve {
namespace {

using sampling_test::Greedy;
using sampling_test::LogitsTensor;
using sampling_test::RandomLogits;

int32_t Sample(const std::vector<float>& logits, const SamplingParams& params,
               absl::Span<const int32_t> history = {}) {
  SamplerRng rng(7);
  return SampleToken(LogitsTensor(logits), history, 0, params, rng).token;
}

TEST(GreedyPicksArgmaxTest, PicksTheLargestLogit) {
  for (uint32_t seed = 0; seed < 10; ++seed) {
    const std::vector<float> logits = RandomLogits(1000, seed);
    const auto expected = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(Sample(logits, Greedy()), expected) << "logits seed " << seed;
  }
}

TEST(GreedyPicksArgmaxTest, BreaksTiesByLowestId) {
  EXPECT_EQ(Sample({1.0f, 5.0f, 3.0f, 5.0f}, Greedy()), 1);
}

TEST(GreedyPicksArgmaxTest, DrawsNoRandomness) {
  SamplerRng used(11);
  SampleToken(LogitsTensor({0.5f, 1.5f}), {}, 0, Greedy(), used);
  SamplerRng fresh(11);
  EXPECT_EQ(used.Uniform(), fresh.Uniform());
}

TEST(GreedyPicksArgmaxTest, TopKOneEqualsGreedy) {
  SamplingParams top1;
  top1.temperature = 1.3f;
  top1.top_k = 1;
  for (uint32_t seed = 0; seed < 10; ++seed) {
    const std::vector<float> logits = RandomLogits(500, seed);
    EXPECT_EQ(Sample(logits, top1), Sample(logits, Greedy())) << "logits seed " << seed;
  }
  EXPECT_EQ(Sample({2.0f, 7.0f, 7.0f, 1.0f}, top1), 1);
}

TEST(GreedyPicksArgmaxTest, TemperatureTooSmallToDivideByIsGreedy) {
  SamplingParams tiny;
  tiny.temperature = 1e-7f;
  const std::vector<float> logits = {1.0f, 4.0f, 4.0f, 2.0f};
  EXPECT_EQ(Sample(logits, tiny), 1);
}

TEST(GreedyPicksArgmaxTest, PicksArgmaxAfterPenalties) {
  SamplingParams params = Greedy();
  params.repetition_penalty = 2.0f;
  const std::vector<int32_t> history = {0};
  EXPECT_EQ(Sample({3.0f, 2.9f}, params, history), 1);
}

}  // namespace
}  // namespace deltaserve
