// CombinePrefillAttention hands a device's one-pass combine (kernels::DeltaCombine on
// CUDA) the sparse and dense rows of a chunk in the layout kernels/delta_plan.h describes,
// and in delta mode the carried correction of the anchor before a chunk off the anchor
// grid: combining them by the kernel's formula gives the ATen combine's output, carry and
// telemetry, and every chunk with anchors, on the grid or off it, is handed over.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "engine/attention/prefill_attention.h"
#include "engine/attention/tiled_attention.h"
#include "kernels/delta_plan.h"
#include "tests/engine/attention/attention_inputs.h"
#include "tests/engine/attention/reference_attention.h"

namespace deltaserve {
namespace {

constexpr int64_t kPromptLen = 800;  // s_p = 800 - (800 % 48 + 128) = 640 at lambda 48
constexpr double kTolerance = 1e-6;

// kernels::DeltaCombine's formula, reading every row where the kernel reads it.
void CombineAsDeltaCombineDoes(const kernels::DeltaChunkPlan& plan, AttentionMode mode, const at::Tensor& sparse,
                               const at::Tensor& dense, const at::Tensor& carry, const at::Tensor& out) {
  for (int t = 0; t < plan.len; ++t) {
    const int position = plan.start + t;
    if (position >= plan.prefix_end || (mode == AttentionMode::kRecompute && position % plan.lambda == 0)) {
      out[t].copy_(dense[plan.dense_row_of(position)]);
    } else if (mode == AttentionMode::kRecompute) {
      out[t].copy_(sparse[t]);
    } else {
      const int anchor = plan.anchor_of(position);
      out[t].copy_(sparse[t] + (anchor < plan.start ? carry
                                                    : dense[plan.dense_row_of(anchor)] - sparse[anchor - plan.start]));
    }
  }
}

struct ChunkedRun {
  at::Tensor out;
  AttentionTelemetry telemetry;
  int64_t one_pass_chunks = 0;
};

ChunkedRun WithOnePassCombine(const reference::AttentionInputs& inputs, const AttentionConfig& config, int64_t chunk) {
  ChunkedRun run;
  run.out = at::empty_like(inputs.q);
  DeltaCarry carry;
  for (int64_t start = 0; start < kPromptLen; start += chunk) {
    const int64_t end = std::min(kPromptLen, start + chunk);
    const at::Tensor q = inputs.q.slice(0, start, end);
    const HeadMajorKv kv = HeadMajorKv::From(inputs.k.slice(0, 0, end), inputs.v.slice(0, 0, end));
    const kernels::DeltaChunkPlan plan = kernels::MakeDeltaChunkPlan(
        static_cast<int>(start), static_cast<int>(end - start), static_cast<int>(kPromptLen),
        static_cast<int>(config.lambda));
    CombinePrefillAttention(
        run.out.slice(0, start, end), start, kPromptLen, config, {&carry, &run.telemetry, nullptr},
        TiledAttender(q, start, kv),
        [&](const at::Tensor& sparse, const at::Tensor& dense, const at::Tensor& carried, const at::Tensor& out) {
          ++run.one_pass_chunks;
          EXPECT_EQ(carried.defined(), config.mode == AttentionMode::kDelta && start % config.lambda != 0)
              << "DeltaCombine refuses a delta chunk off the grid without the carried correction";
          if (carried.defined()) {
            EXPECT_TRUE(carried.is_contiguous());
            EXPECT_EQ(carried.sizes(), out[0].sizes());
          }
          EXPECT_NE(sparse.data_ptr(), out.data_ptr()) << "DeltaCombine re-reads anchor rows of sparse";
          EXPECT_EQ(dense.size(0), plan.num_dense_rows());
          CombineAsDeltaCombineDoes(plan, config.mode, sparse, dense, carried, out);
        });
  }
  return run;
}

void ExpectSameCosines(const std::vector<double>& actual, const std::vector<double>& expected, const char* name) {
  ASSERT_EQ(actual.size(), expected.size()) << name;
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], kTolerance) << name << " " << i;
}

TEST(OnePassCombine, MatchesTheAtenCombineOnAndOffTheAnchorGrid) {
  const auto inputs = reference::AttentionInputs::Random(kPromptLen, 4, 2, 32, 8);
  // Chunk size -> chunks with anchors (before s_p = 640), every one combined in one pass.
  // Chunks of 96 all start on the grid of 48; chunks of 72 alternate on and off it (4 of
  // 9 off), so an off-grid chunk takes the carry an on-grid one left and hands its own to
  // the next; chunks of 100 are off it from the second on (6 of 7), carry after carry.
  const std::vector<std::tuple<int64_t, int64_t>> chunks = {{kPromptLen, 1}, {96, 7}, {72, 9}, {100, 7}};
  for (AttentionMode mode : {AttentionMode::kDense, AttentionMode::kSparse, AttentionMode::kRecompute,
                             AttentionMode::kDelta}) {
    const AttentionConfig config{mode, 96, 40, 48, 0.5};
    AttentionTelemetry expected;
    const at::Tensor one_shot =
        PrefillAttention(inputs.q, inputs.k, inputs.v, 0, kPromptLen, config, {nullptr, &expected, nullptr});
    const bool corrected = mode == AttentionMode::kRecompute || mode == AttentionMode::kDelta;
    for (const auto& [chunk, one_pass_chunks] : chunks) {
      SCOPED_TRACE(::testing::Message() << "mode " << AttentionModeName(mode) << " chunk " << chunk);
      const ChunkedRun run = WithOnePassCombine(inputs, config, chunk);
      EXPECT_EQ(run.one_pass_chunks, corrected ? one_pass_chunks : 0);
      EXPECT_LT(reference::RelativeError(run.out, one_shot), kTolerance);
      ExpectSameCosines(run.telemetry.anchor_sparse, expected.anchor_sparse, "anchor_sparse");
      ExpectSameCosines(run.telemetry.probe_sparse, expected.probe_sparse, "probe_sparse");
      ExpectSameCosines(run.telemetry.probe_delta, expected.probe_delta, "probe_delta");
    }
  }
}

}  // namespace
}  // namespace deltaserve
