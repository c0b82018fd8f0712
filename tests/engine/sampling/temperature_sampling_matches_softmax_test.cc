#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "engine/sampling/sampler.h"
#include "tests/engine/sampling/sampling_test_util.h"

namespace deltaserve {
namespace {

using sampling_test::DrawTokens;

constexpr int kDraws = 20000;
const std::vector<float> kLogits = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, -1.5f, 1.2f, 0.7f};

// Chi-square critical values at p = 0.001 by degrees of freedom (index), so a correct
// sampler fails one case in a thousand seeds; the seeds here are fixed.
const std::vector<double> kChiSquareCritical = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32};

struct TemperatureCase {
  std::string name;
  float temperature;
  int32_t top_k;  // the expected distribution is the softmax over the k best logits
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const TemperatureCase& test_case, std::ostream* os) { *os << test_case.name; }

class TemperatureSamplingMatchesSoftmaxTest : public ::testing::TestWithParam<TemperatureCase> {};

std::vector<double> ExpectedProbabilities(const TemperatureCase& sampling) {
  std::vector<double> weights;
  for (float logit : kLogits) {
    int32_t better = 0;
    for (float other : kLogits) better += other > logit ? 1 : 0;
    const bool kept = sampling.top_k <= 0 || better < sampling.top_k;
    weights.push_back(kept ? std::exp(static_cast<double>(logit) / sampling.temperature) : 0.0);
  }
  double total = 0.0;
  for (double weight : weights) total += weight;
  for (double& weight : weights) weight /= total;
  return weights;
}

TEST_P(TemperatureSamplingMatchesSoftmaxTest, FrequenciesPassChiSquare) {
  const TemperatureCase& sampling = GetParam();
  SamplingParams params;
  params.temperature = sampling.temperature;
  params.top_k = sampling.top_k;
  std::vector<int> counts(kLogits.size(), 0);
  for (int32_t token : DrawTokens(kLogits, params, 2024, kDraws)) ++counts[token];

  const std::vector<double> expected = ExpectedProbabilities(sampling);
  double chi_square = 0.0;
  int categories = 0;
  for (size_t id = 0; id < kLogits.size(); ++id) {
    if (expected[id] == 0.0) {
      EXPECT_EQ(counts[id], 0) << "token " << id << " is outside top-k";
      continue;
    }
    const double expected_count = expected[id] * kDraws;
    chi_square += (counts[id] - expected_count) * (counts[id] - expected_count) / expected_count;
    ++categories;
  }
  EXPECT_LT(chi_square, kChiSquareCritical[categories - 1]);
}

INSTANTIATE_TEST_SUITE_P(Temperatures, TemperatureSamplingMatchesSoftmaxTest,
                         ::testing::Values(TemperatureCase{"Sharpened", 0.5f, -1},
                                           TemperatureCase{"Plain", 1.0f, -1},
                                           TemperatureCase{"Flattened", 2.0f, -1},
                                           TemperatureCase{"FlattenedTopK", 2.0f, 4}),
                         [](const ::testing::TestParamInfo<TemperatureCase>& case_info) {
                           return case_info.param.name;
                         });

}  // namespace
}  // namespace deltaserve
