// ValidateAttentionConfig rejects each out-of-range field with a message naming it, and
// attention modes round-trip through their names.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/attention/attention_config.h"

namespace deltaserve {
namespace {

using ::testing::HasSubstr;

TEST(ValidateAttentionConfig, AcceptsDefaultsAndBoundaries) {
  EXPECT_TRUE(ValidateAttentionConfig(AttentionConfig{}).ok());
  EXPECT_TRUE(ValidateAttentionConfig(AttentionConfig{AttentionMode::kDelta, 1, 0, 1, 1.0}).ok());
}

TEST(ValidateAttentionConfig, NamesEachBadField) {
  struct Case {
    AttentionConfig config;
    std::string message;
  };
  for (const Case& c : {
           Case{{AttentionMode::kDelta, 0, 1024, 64, 0.0}, "attention.window must be >= 1, got 0"},
           Case{{AttentionMode::kDelta, 2048, -1, 64, 0.0}, "attention.sink must be >= 0, got -1"},
           Case{{AttentionMode::kDelta, 2048, 1024, 0, 0.0}, "attention.lambda must be >= 1, got 0"},
           Case{{AttentionMode::kDelta, 2048, 1024, 64, 1.5}, "attention.probe_fraction must be in [0, 1], got 1.5"},
           Case{{AttentionMode::kDelta, 2048, 1024, 64, -0.1}, "attention.probe_fraction must be in [0, 1]"},
           Case{{AttentionMode::kDelta, 2048, 1024, 64, std::nan("")}, "attention.probe_fraction"},
       }) {
    const absl::Status status = ValidateAttentionConfig(c.config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST(ValidateAttentionConfig, UsesTheCallersFieldPrefix) {
  const absl::Status status = ValidateAttentionConfig(AttentionConfig{AttentionMode::kSparse, -3, 0, 64}, "--");
  EXPECT_EQ(std::string(status.message()), "--window must be >= 1, got -3");
}

TEST(AttentionModeNames, RoundTrip) {
  for (AttentionMode mode : {AttentionMode::kDense, AttentionMode::kSparse, AttentionMode::kRecompute,
                             AttentionMode::kDelta}) {
    const absl::StatusOr<AttentionMode> parsed = ParseAttentionMode(AttentionModeName(mode));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, mode);
  }
}

TEST(AttentionModeNames, RejectsUnknownName) {
  const absl::StatusOr<AttentionMode> parsed = ParseAttentionMode("Delta");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("'Delta'"));
}

}  // namespace
}  // namespace deltaserve
