#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <set>
#include <string>

#include "engine/sampling/sampler.h"
#include "tests/engine/sampling/sampling_test_util.h"

namespace deltaserve {
namespace {

using sampling_test::DrawTokens;

constexpr int kDraws = 3000;

// Ranked by probability the ids are 3 (0.40), 1 (0.30), 4 (0.15), 5 (0.08), 0 (0.05), 2 (0.02).
std::vector<float> CraftedLogits() {
  std::vector<float> logits;
  for (double probability : {0.05, 0.30, 0.02, 0.40, 0.15, 0.08}) {
    logits.push_back(static_cast<float>(std::log(probability)));
  }
  return logits;
}

struct TruncationCase {
  std::string name;
  int32_t top_k = -1;
  float top_p = 1.0f;
  float min_p = 0.0f;
  std::set<int32_t> allowed;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const TruncationCase& test_case, std::ostream* os) { *os << test_case.name; }

class TruncationSamplesOnlyAllowedTokensTest : public ::testing::TestWithParam<TruncationCase> {};

// Many draws must stay inside the allowed set and, to show the set is not cut further
// than the rule says, reach every token of it.
TEST_P(TruncationSamplesOnlyAllowedTokensTest, DrawsCoverExactlyTheAllowedSet) {
  const TruncationCase& truncation = GetParam();
  SamplingParams params;
  params.top_k = truncation.top_k;
  params.top_p = truncation.top_p;
  params.min_p = truncation.min_p;
  const std::vector<int32_t> tokens = DrawTokens(CraftedLogits(), params, 99, kDraws);
  EXPECT_EQ(std::set<int32_t>(tokens.begin(), tokens.end()), truncation.allowed);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, TruncationSamplesOnlyAllowedTokensTest,
    ::testing::Values(TruncationCase{"TopKKeepsKBest", 3, 1.0f, 0.0f, {3, 1, 4}},
                      TruncationCase{"TopKAboveVocabIsOff", 100, 1.0f, 0.0f, {0, 1, 2, 3, 4, 5}},
                      TruncationCase{"TopPKeepsSmallestSetReachingP", -1, 0.75f, 0.0f, {3, 1, 4}},
                      TruncationCase{"TopPJustAboveOneTokenKeepsTwo", -1, 0.41f, 0.0f, {3, 1}},
                      TruncationCase{"TopPBelowBestTokenKeepsOne", -1, 0.3f, 0.0f, {3}},
                      TruncationCase{"TopPRenormalizesOverTopK", 2, 0.5f, 0.0f, {3}},
                      TruncationCase{"MinPDropsTokensBelowShareOfBest", -1, 1.0f, 0.3f, {3, 1, 4}},
                      TruncationCase{"MinPHalfOfBest", -1, 1.0f, 0.5f, {3, 1}},
                      TruncationCase{"MinPAfterTopK", 4, 1.0f, 0.3f, {3, 1, 4}},
                      TruncationCase{"EachRuleCutsInTurn", 5, 0.8f, 0.5f, {3, 1}}),
    [](const ::testing::TestParamInfo<TruncationCase>& case_info) { return case_info.param.name; });

TEST(TruncationTieBreakTest, TopKKeepsLowerIdsAmongEqualLogits) {
  SamplingParams params;
  params.top_k = 2;
  const std::vector<int32_t> tokens = DrawTokens({1.0f, 1.0f, 1.0f, 1.0f}, params, 4, 500);
  EXPECT_EQ(std::set<int32_t>(tokens.begin(), tokens.end()), (std::set<int32_t>{0, 1}));
}

// 3000 equally likely tokens, then 2000 unlikely ones: the top-p 0.9 cut falls inside the
// run of equal logits, which the ranking orders by ascending id.
TEST(TruncationTieBreakTest, TopPCutsThroughALargeTieByAscendingId) {
  std::vector<float> logits(3000, 0.0f);
  logits.resize(5000, -3.0f);
  SamplingParams params;
  params.top_p = 0.9f;
  const double total = 3000.0 + 2000.0 * std::exp(-3.0);
  const auto nucleus = static_cast<int32_t>(std::ceil(0.9 * total));

  const std::vector<int32_t> tokens = DrawTokens(logits, params, 8, 1000);
  const int32_t highest = *std::max_element(tokens.begin(), tokens.end());
  EXPECT_LT(highest, nucleus);
  EXPECT_GE(highest, nucleus - 100) << "nucleus cut short";
}

}  // namespace
}  // namespace deltaserve
