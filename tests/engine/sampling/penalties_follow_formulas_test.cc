#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "engine/sampling/sampler.h"

namespace deltaserve {
namespace {

const std::vector<float> kLogits = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f, -2.0f};

std::vector<float> Penalized(const std::vector<int32_t>& history, size_t generated_count,
                             const SamplingParams& params) {
  std::vector<float> logits = kLogits;
  ApplyPenalties(absl::MakeSpan(logits), history, generated_count, params);
  return logits;
}

float RepetitionFormula(float logit, float penalty) {
  return logit > 0.0f ? logit / penalty : logit * penalty;
}

float PresenceFrequencyFormula(float logit, int count, float presence, float frequency) {
  return logit - (presence * (count > 0 ? 1.0f : 0.0f) + frequency * static_cast<float>(count));
}

TEST(PenaltiesFollowFormulasTest, RepetitionDividesPositiveAndMultipliesOtherSeenLogits) {
  SamplingParams params;
  params.repetition_penalty = 1.5f;
  // Prompt {0, 1, 4} then generated {2, 2}: repetition covers both parts.
  const std::vector<float> logits = Penalized({0, 1, 4, 2, 2}, 2, params);
  const std::set<int32_t> seen = {0, 1, 2, 4};
  for (int32_t id = 0; id < static_cast<int32_t>(kLogits.size()); ++id) {
    const float expected = seen.count(id) ? RepetitionFormula(kLogits[id], 1.5f) : kLogits[id];
    EXPECT_EQ(logits[id], expected) << "token " << id;
  }
}

TEST(PenaltiesFollowFormulasTest, RepetitionAppliesOncePerTokenHoweverOftenSeen) {
  SamplingParams params;
  params.repetition_penalty = 2.0f;
  EXPECT_EQ(Penalized({3, 3, 3}, 3, params)[3], kLogits[3] / 2.0f);
}

TEST(PenaltiesFollowFormulasTest, PresenceAndFrequencyCountOnlyGeneratedTokens) {
  SamplingParams params;
  params.presence_penalty = 0.5f;
  params.frequency_penalty = 0.25f;
  // Prompt {0, 3}, generated {3, 5, 5, 5}.
  const std::vector<float> logits = Penalized({0, 3, 3, 5, 5, 5}, 4, params);
  const std::vector<int> generated_counts = {0, 0, 0, 1, 0, 3};
  for (size_t id = 0; id < kLogits.size(); ++id) {
    EXPECT_EQ(logits[id], PresenceFrequencyFormula(kLogits[id], generated_counts[id], 0.5f, 0.25f))
        << "token " << id;
  }
}

TEST(PenaltiesFollowFormulasTest, NegativePresenceAndFrequencyRaiseGeneratedTokens) {
  SamplingParams params;
  params.presence_penalty = -1.0f;
  params.frequency_penalty = -0.5f;
  const std::vector<float> logits = Penalized({1, 1}, 2, params);
  EXPECT_EQ(logits[1], PresenceFrequencyFormula(kLogits[1], 2, -1.0f, -0.5f));
  EXPECT_GT(logits[1], kLogits[1]);
}

TEST(PenaltiesFollowFormulasTest, RepetitionComesBeforePresenceAndFrequency) {
  SamplingParams params;
  params.repetition_penalty = 2.0f;
  params.presence_penalty = 1.0f;
  params.frequency_penalty = 0.5f;
  EXPECT_EQ(Penalized({0, 0}, 2, params)[0],
            PresenceFrequencyFormula(RepetitionFormula(kLogits[0], 2.0f), 2, 1.0f, 0.5f));
}

TEST(PenaltiesFollowFormulasTest, NeutralPenaltiesLeaveLogitsUnchanged) {
  EXPECT_EQ(Penalized({0, 1, 2, 3}, 2, SamplingParams{}), kLogits);
}

TEST(PenaltiesFollowFormulasTest, IdsOutsideVocabularyAreSkipped) {
  SamplingParams params;
  params.repetition_penalty = 2.0f;
  params.frequency_penalty = 1.0f;
  std::vector<float> expected = kLogits;
  expected[2] = PresenceFrequencyFormula(RepetitionFormula(kLogits[2], 2.0f), 1, 0.0f, 1.0f);
  EXPECT_EQ(Penalized({-1, 6, 1000, 2}, 4, params), expected);
}

TEST(PenaltiesFollowFormulasTest, GeneratedCountBeyondHistoryCountsTheWholeHistory) {
  SamplingParams params;
  params.presence_penalty = 1.0f;
  const std::vector<float> logits = Penalized({4}, 10, params);
  EXPECT_EQ(logits[4], PresenceFrequencyFormula(kLogits[4], 1, 1.0f, 0.0f));
}

}  // namespace
}  // namespace deltaserve
