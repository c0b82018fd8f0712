// deltaserve-bench's summary statistics: nearest-rank percentiles and the mean.

#include <gtest/gtest.h>

#include "client/load_spec.h"

namespace deltaserve::client {
namespace {

TEST(PercentilesNearestRank, OneToHundred) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  const Percentiles p = Summarize(samples);
  EXPECT_EQ(p.count, 100);
  EXPECT_DOUBLE_EQ(p.mean, 50.5);
  EXPECT_DOUBLE_EQ(p.p50, 50);
  EXPECT_DOUBLE_EQ(p.p90, 90);
  EXPECT_DOUBLE_EQ(p.p99, 99);
}

TEST(PercentilesNearestRank, SingleSampleAndEmpty) {
  const Percentiles one = Summarize({0.25});
  EXPECT_DOUBLE_EQ(one.p50, 0.25);
  EXPECT_DOUBLE_EQ(one.p99, 0.25);
  const Percentiles none = Summarize({});
  EXPECT_EQ(none.count, 0);
  EXPECT_DOUBLE_EQ(none.p99, 0);
}

TEST(RequestShapes, UniformStaysInRangeAndFixedIsFixed) {
  std::mt19937_64 rng(1);
  absl::StatusOr<std::vector<RequestShape>> uniform = DrawShapes({10, 20, 5, 5, ""}, 200, rng);
  ASSERT_TRUE(uniform.ok()) << uniform.status();
  bool saw_min = false, saw_max = false;
  for (const RequestShape& shape : *uniform) {
    EXPECT_GE(shape.prompt_tokens, 10);
    EXPECT_LE(shape.prompt_tokens, 20);
    EXPECT_EQ(shape.output_tokens, 5);
    saw_min |= shape.prompt_tokens == 10;
    saw_max |= shape.prompt_tokens == 20;
  }
  EXPECT_TRUE(saw_min && saw_max);
  EXPECT_EQ(DrawShapes({10, 5, 1, 1, ""}, 1, rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DrawShapes({1, 1, 1, 1, "/nonexistent/lengths"}, 1, rng).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace deltaserve::client
