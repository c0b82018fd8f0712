#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <ostream>
#include <string>

#include "engine/sampling/sampling_params.h"

namespace deltaserve {
namespace {

SamplingLimits Limits() {
  SamplingLimits limits;
  limits.vocab_size = 32000;
  limits.max_tokens = 4096;
  limits.max_logprobs = 20;
  limits.max_stop_strings = 4;
  limits.max_stop_string_bytes = 8;
  return limits;
}

struct Rule {
  std::string name;
  std::function<void(SamplingParams&)> break_it;
  std::string message;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const Rule& test_case, std::ostream* os) { *os << test_case.name; }

class SamplingParamsValidationTest : public ::testing::TestWithParam<Rule> {};

TEST_P(SamplingParamsValidationTest, RejectsWithMessageNamingFieldLimitAndValue) {
  SamplingParams params;
  GetParam().break_it(params);
  const absl::Status status = ValidateSamplingParams(params, Limits());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()), GetParam().message);
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

INSTANTIATE_TEST_SUITE_P(
    Rules, SamplingParamsValidationTest,
    ::testing::Values(
        Rule{"MaxTokensZero", [](SamplingParams& p) { p.max_tokens = 0; },
             "sampling.max_tokens: must be in [1, 4096], got 0"},
        Rule{"MaxTokensAboveLimit", [](SamplingParams& p) { p.max_tokens = 4097; },
             "sampling.max_tokens: must be in [1, 4096], got 4097"},
        Rule{"TemperatureNegative", [](SamplingParams& p) { p.temperature = -0.5f; },
             "sampling.temperature: must be a finite number >= 0, got -0.5"},
        Rule{"TemperatureNaN", [](SamplingParams& p) { p.temperature = kNaN; },
             "sampling.temperature: must be a finite number >= 0, got nan"},
        Rule{"TemperatureInfinite", [](SamplingParams& p) { p.temperature = kInf; },
             "sampling.temperature: must be a finite number >= 0, got inf"},
        Rule{"TopPAboveOne", [](SamplingParams& p) { p.top_p = 1.5f; },
             "sampling.top_p: must be in (0, 1], got 1.5"},
        Rule{"TopPZero", [](SamplingParams& p) { p.top_p = 0.0f; },
             "sampling.top_p: must be in (0, 1], got 0"},
        Rule{"TopPNaN", [](SamplingParams& p) { p.top_p = kNaN; },
             "sampling.top_p: must be in (0, 1], got nan"},
        Rule{"TopKBelowMinusOne", [](SamplingParams& p) { p.top_k = -2; },
             "sampling.top_k: must be -1 or 0 (off) or >= 1, got -2"},
        Rule{"MinPNegative", [](SamplingParams& p) { p.min_p = -0.1f; },
             "sampling.min_p: must be in [0, 1], got -0.1"},
        Rule{"MinPAboveOne", [](SamplingParams& p) { p.min_p = 1.1f; },
             "sampling.min_p: must be in [0, 1], got 1.1"},
        Rule{"MinPNaN", [](SamplingParams& p) { p.min_p = kNaN; },
             "sampling.min_p: must be in [0, 1], got nan"},
        Rule{"RepetitionPenaltyZero", [](SamplingParams& p) { p.repetition_penalty = 0.0f; },
             "sampling.repetition_penalty: must be a finite number > 0, got 0"},
        Rule{"RepetitionPenaltyNaN", [](SamplingParams& p) { p.repetition_penalty = kNaN; },
             "sampling.repetition_penalty: must be a finite number > 0, got nan"},
        Rule{"RepetitionPenaltyInfinite", [](SamplingParams& p) { p.repetition_penalty = kInf; },
             "sampling.repetition_penalty: must be a finite number > 0, got inf"},
        Rule{"PresencePenaltyBelowRange", [](SamplingParams& p) { p.presence_penalty = -2.5f; },
             "sampling.presence_penalty: must be in [-2, 2], got -2.5"},
        Rule{"PresencePenaltyNaN", [](SamplingParams& p) { p.presence_penalty = kNaN; },
             "sampling.presence_penalty: must be in [-2, 2], got nan"},
        Rule{"FrequencyPenaltyAboveRange", [](SamplingParams& p) { p.frequency_penalty = 3.0f; },
             "sampling.frequency_penalty: must be in [-2, 2], got 3"},
        Rule{"LogprobsNegative", [](SamplingParams& p) { p.logprobs = -1; },
             "sampling.logprobs: must be in [0, 20], got -1"},
        Rule{"LogprobsAboveLimit", [](SamplingParams& p) { p.logprobs = 21; },
             "sampling.logprobs: must be in [0, 20], got 21"},
        Rule{"TooManyStopStrings",
             [](SamplingParams& p) {
               p.stop = {"a", "b", "c", "d", "e"};
             },
             "sampling.stop: must have at most 4 strings, got 5"},
        Rule{"StopStringTooLong",
             [](SamplingParams& p) {
               p.stop = {"end", "123456789"};
             },
             "sampling.stop[1]: must be 1 to 8 bytes long, got 9 bytes"},
        Rule{"StopStringEmpty", [](SamplingParams& p) { p.stop = {""}; },
             "sampling.stop[0]: must be 1 to 8 bytes long, got 0 bytes"},
        Rule{"StopTokenIdNegative",
             [](SamplingParams& p) {
               p.stop_token_ids = {2, -1};
             },
             "sampling.stop_token_ids[1]: must be in [0, 32000), got -1"},
        Rule{"StopTokenIdAtVocabSize", [](SamplingParams& p) { p.stop_token_ids = {32000}; },
             "sampling.stop_token_ids[0]: must be in [0, 32000), got 32000"}),
    [](const ::testing::TestParamInfo<Rule>& case_info) { return case_info.param.name; });

TEST(SamplingParamsAcceptedTest, DefaultsAreValid) {
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}, Limits()).ok());
}

TEST(SamplingParamsAcceptedTest, EveryLimitItselfIsValid) {
  SamplingParams params;
  params.max_tokens = 4096;
  params.temperature = 0.0f;
  params.top_p = 1.0f;
  params.min_p = 1.0f;
  params.repetition_penalty = 1e-3f;
  params.presence_penalty = -2.0f;
  params.frequency_penalty = 2.0f;
  params.logprobs = 20;
  params.stop = {"a", "b", "c", "12345678"};
  params.stop_token_ids = {0, 31999};
  const absl::Status status = ValidateSamplingParams(params, Limits());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(SamplingParamsAcceptedTest, TopKOffValuesAndAboveVocabularyAreValid) {
  for (int32_t top_k : {-1, 0, 1, 32000, 1000000}) {
    SamplingParams params;
    params.top_k = top_k;
    EXPECT_TRUE(ValidateSamplingParams(params, Limits()).ok()) << "top_k " << top_k;
  }
}

}  // namespace
}  // namespace deltaserve
