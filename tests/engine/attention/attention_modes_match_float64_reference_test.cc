// Every mode of PrefillAttention equals the float64 reference written from DESIGN.md,
// over GQA shapes and the edge cases of the anchor/tail layout and of sink + window.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "engine/attention/prefill_attention.h"
#include "tests/engine/attention/attention_inputs.h"
#include "tests/engine/attention/reference_attention.h"

namespace deltaserve {
namespace {

constexpr double kFloat32Tolerance = 1e-5;

struct Geometry {
  std::string name;
  int64_t heads;
  int64_t kv_heads;
  int64_t dim;
  int64_t prompt_len;
  int64_t sink;
  int64_t window;
  int64_t lambda;
};

std::ostream& operator<<(std::ostream& os, const Geometry& g) { return os << g.name; }

class AttentionModesMatchReference : public ::testing::TestWithParam<Geometry> {};

TEST_P(AttentionModesMatchReference, AllModes) {
  const Geometry& g = GetParam();
  const auto inputs = reference::AttentionInputs::Random(g.prompt_len, g.heads, g.kv_heads, g.dim, 7);
  const reference::ReferenceRows rows = reference::DenseAndSparse(inputs.q, inputs.k, inputs.v, g.sink, g.window);
  for (AttentionMode mode : {AttentionMode::kDense, AttentionMode::kSparse, AttentionMode::kRecompute,
                             AttentionMode::kDelta}) {
    const AttentionConfig config{mode, g.window, g.sink, g.lambda};
    const at::Tensor out = PrefillAttention(inputs.q, inputs.k, inputs.v, 0, g.prompt_len, config);
    EXPECT_LT(reference::RelativeError(out, reference::Prefill(rows, g.prompt_len, config)), kFloat32Tolerance)
        << "mode " << AttentionModeName(mode);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, AttentionModesMatchReference,
    ::testing::Values(
        Geometry{"single_token", 4, 2, 32, 1, 4, 8, 64},
        Geometry{"shorter_than_cut", 4, 2, 32, 100, 8, 16, 64},
        Geometry{"one_anchor_group", 8, 1, 16, 200, 8, 32, 64},
        Geometry{"length_multiple_of_lambda", 4, 2, 32, 512, 16, 64, 64},
        Geometry{"lambda_48_not_dividing_128", 8, 1, 16, 800, 32, 96, 48},
        Geometry{"lambda_100", 4, 2, 64, 700, 64, 200, 100},
        Geometry{"lambda_above_128", 4, 2, 16, 900, 20, 50, 200},
        Geometry{"lambda_1", 2, 2, 16, 300, 5, 20, 1},
        Geometry{"window_covers_prompt", 4, 2, 32, 700, 16, 700, 64},
        Geometry{"sink_covers_prompt", 4, 2, 32, 700, 700, 32, 64},
        Geometry{"sink_and_window_overlap", 8, 1, 16, 1000, 300, 400, 64},
        Geometry{"no_sink", 4, 2, 32, 800, 0, 100, 64},
        Geometry{"window_1", 4, 2, 32, 400, 3, 1, 32},
        Geometry{"long_prompt", 2, 1, 16, 3000, 256, 512, 64}),
    [](const ::testing::TestParamInfo<Geometry>& param) { return param.param.name; });

// Queries at positions >= prompt_len are decode queries: dense in every mode.
TEST(DecodeQueries, AreDenseInEveryMode) {
  const int64_t positions = 600;
  const int64_t prompt_len = 560;
  const auto inputs = reference::AttentionInputs::Random(positions, 4, 2, 32, 11);
  const reference::ReferenceRows rows = reference::DenseAndSparse(inputs.q, inputs.k, inputs.v, 16, 64);
  for (AttentionMode mode : {AttentionMode::kSparse, AttentionMode::kRecompute, AttentionMode::kDelta}) {
    const AttentionConfig config{mode, 64, 16, 64};
    const at::Tensor out = PrefillAttention(inputs.q, inputs.k, inputs.v, 0, prompt_len, config);
    EXPECT_LT(reference::RelativeError(out.slice(0, prompt_len), rows.dense.slice(0, prompt_len)),
              kFloat32Tolerance)
        << "mode " << AttentionModeName(mode);
    EXPECT_LT(reference::RelativeError(out, reference::Prefill(rows, prompt_len, config)), kFloat32Tolerance)
        << "mode " << AttentionModeName(mode);
  }
}

// A decode step alone: one query after the whole prompt, with every key cached.
TEST(DecodeQueries, SingleStepAfterPromptIsDense) {
  const int64_t positions = 900;
  const auto inputs = reference::AttentionInputs::Random(positions, 8, 2, 16, 13);
  const reference::ReferenceRows rows = reference::DenseAndSparse(inputs.q, inputs.k, inputs.v, 8, 32);
  const AttentionConfig config{AttentionMode::kDelta, 32, 8, 64};
  const at::Tensor out =
      PrefillAttention(inputs.q.slice(0, positions - 1), inputs.k, inputs.v, positions - 1, positions - 1, config);
  EXPECT_LT(reference::RelativeError(out, rows.dense.slice(0, positions - 1)), kFloat32Tolerance);
}

}  // namespace
}  // namespace deltaserve
