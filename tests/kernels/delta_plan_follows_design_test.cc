// The dense-row plan of a chunk follows DESIGN.md: cut = s % lambda + max(128, lambda),
// anchors on the absolute lambda grid below s_p, the tail s_p..s-1, and chunks that
// together cover a prompt plan exactly the rows a whole-prompt plan does.
#include "kernels/delta_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace deltaserve::kernels {
namespace {

std::vector<int> DensePositions(const DeltaChunkPlan& plan) {
  std::vector<int> positions;
  for (int r = 0; r < plan.num_dense_rows(); ++r) positions.push_back(plan.dense_row_position(r));
  return positions;
}

TEST(DeltaPlanTest, WholePromptHasAnchorsThenTail) {
  const DeltaChunkPlan plan = MakeDeltaChunkPlan(0, 1000, 1000, 64);
  EXPECT_EQ(plan.prefix_end, 1000 - (1000 % 64 + 128));
  EXPECT_EQ(plan.num_anchors, 13);  // 0, 64, ..., 768 < 832
  EXPECT_EQ(plan.num_dense_rows(), 13 + 168);
  EXPECT_EQ(plan.dense_row_position(12), 768);
  EXPECT_EQ(plan.dense_row_position(13), 832);
  for (int r = 0; r < plan.num_dense_rows(); ++r) EXPECT_EQ(plan.dense_row_of(plan.dense_row_position(r)), r);
}

TEST(DeltaPlanTest, LargeLambdaCutsLambdaPlusRemainder) {
  const DeltaChunkPlan plan = MakeDeltaChunkPlan(0, 5000, 5000, 256);
  EXPECT_EQ(plan.prefix_end, 5000 - (5000 % 256 + 256));
}

TEST(DeltaPlanTest, ShortPromptIsAllTail) {
  const DeltaChunkPlan plan = MakeDeltaChunkPlan(0, 150, 150, 64);
  EXPECT_LE(plan.prefix_end, 0);
  EXPECT_EQ(plan.num_anchors, 0);
  EXPECT_EQ(plan.num_dense_rows(), 150);
}

TEST(DeltaPlanTest, ChunksPlanTheSameRowsAsTheWholePrompt) {
  const int prompt = 3000;
  const int lambda = 64;
  std::vector<int> chunked;
  for (int start = 0; start < prompt; start += 512) {
    const int len = start + 512 <= prompt ? 512 : prompt - start;
    const std::vector<int> rows = DensePositions(MakeDeltaChunkPlan(start, len, prompt, lambda));
    chunked.insert(chunked.end(), rows.begin(), rows.end());
  }
  const std::vector<int> whole = DensePositions(MakeDeltaChunkPlan(0, prompt, prompt, lambda));
  EXPECT_EQ(chunked, whole);
}

}  // namespace
}  // namespace deltaserve::kernels
