// The work each mode does is the algorithm's: sparse attention computes about
// sink + window scores per query, delta adds dense scores only for anchors and the tail,
// and neither builds a full s x s score matrix. The counters the implementation fills
// are checked against visible-key counts computed here row by row.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

#include "engine/attention/prefill_attention.h"
#include "engine/attention/tiled_attention.h"
#include "tests/engine/attention/attention_inputs.h"
#include "tests/engine/attention/reference_attention.h"

namespace deltaserve {
namespace {

constexpr int64_t kDenseWindow = std::numeric_limits<int64_t>::max();

int64_t VisiblePairs(int64_t begin, int64_t end, int64_t sink, int64_t window) {
  int64_t pairs = 0;
  for (int64_t i = begin; i < end; ++i) pairs += reference::VisibleKeys(i, sink, window);
  return pairs;
}

AttentionCost CostOf(int64_t prompt_len, const AttentionConfig& config) {
  const auto inputs = reference::AttentionInputs::Random(prompt_len, 1, 1, 8, 1);
  AttentionCost cost;
  PrefillAttention(inputs.q, inputs.k, inputs.v, 0, prompt_len, config, {nullptr, nullptr, &cost});
  return cost;
}

TEST(AttentionCost, DenseComputesTheCausalTriangleOnly) {
  const int64_t s = 3000;
  const AttentionCost cost = CostOf(s, AttentionConfig{AttentionMode::kDense, 2048, 1024, 64});
  const int64_t visible = s * (s + 1) / 2;
  EXPECT_EQ(cost.dense_queries, s);
  EXPECT_EQ(cost.sparse_queries, 0);
  EXPECT_EQ(cost.sparse_score_pairs, 0);
  EXPECT_GE(cost.dense_score_pairs, visible);
  // Only the diagonal tile of each query is partly masked.
  EXPECT_LE(cost.dense_score_pairs, visible + s * kKeyTile);
}

TEST(AttentionCost, SparseComputesSinkAndWindowKeysOnly) {
  const int64_t s = 3000;
  const int64_t sink = 64;
  const int64_t window = 128;
  const AttentionCost cost = CostOf(s, AttentionConfig{AttentionMode::kSparse, window, sink, 64});
  const int64_t visible = VisiblePairs(0, s, sink, window);
  EXPECT_EQ(cost.sparse_queries, s);
  EXPECT_EQ(cost.dense_queries, 0);
  EXPECT_GE(cost.sparse_score_pairs, visible);
  // At most one partial tile at each edge of a query's window.
  EXPECT_LE(cost.sparse_score_pairs, visible + 2 * s * kKeyTile);
  // Far below the causal triangle a masked dense score matrix would compute.
  EXPECT_LT(cost.sparse_score_pairs, s * (s + 1) / 2 / 3);
}

// At the default sink and window, the tile edges add little to s * (sink + window).
TEST(AttentionCost, SparseIsCloseToSinkPlusWindowPerQueryAtDefaults) {
  const int64_t s = 8192;
  const AttentionConfig config{AttentionMode::kSparse, 2048, 1024, 64};
  const AttentionCost cost = CostOf(s, config);
  const int64_t visible = VisiblePairs(0, s, config.sink, config.window);
  EXPECT_LE(cost.sparse_score_pairs, visible * 11 / 10);
  // Queries past sink + window see exactly sink + window keys each.
  const int64_t saturated = s - (config.sink + config.window);
  EXPECT_EQ(VisiblePairs(s - saturated, s, config.sink, config.window), saturated * (config.sink + config.window));
}

TEST(AttentionCost, DeltaAddsDenseScoresForAnchorsAndTailOnly) {
  const int64_t s = 3000;
  const AttentionConfig config{AttentionMode::kDelta, 256, 64, 48};
  const AttentionCost cost = CostOf(s, config);
  const int64_t sparse_end = reference::SparseEnd(s, config.lambda);
  const int64_t anchors = (sparse_end + config.lambda - 1) / config.lambda;
  int64_t dense_visible = VisiblePairs(sparse_end, s, 0, kDenseWindow);
  for (int64_t anchor = 0; anchor < sparse_end; anchor += config.lambda) dense_visible += anchor + 1;
  const int64_t sparse_visible = VisiblePairs(0, sparse_end, config.sink, config.window);

  EXPECT_EQ(cost.sparse_queries, sparse_end);
  EXPECT_EQ(cost.dense_queries, anchors + (s - sparse_end));
  EXPECT_GE(cost.sparse_score_pairs, sparse_visible);
  EXPECT_LE(cost.sparse_score_pairs, sparse_visible + 2 * sparse_end * kKeyTile);
  EXPECT_GE(cost.dense_score_pairs, dense_visible);
  EXPECT_LE(cost.dense_score_pairs, dense_visible + cost.dense_queries * kKeyTile);
  // DESIGN.md's estimate of the dense part: (s / lambda + cut) queries of about s / 2 keys.
  const int64_t cut = s - sparse_end;
  EXPECT_LT(cost.dense_score_pairs, (s / config.lambda + cut) * s);
}

TEST(AttentionCost, RecomputeDoesTheSameWorkAsDelta) {
  const int64_t s = 2000;
  AttentionConfig config{AttentionMode::kDelta, 256, 64, 100};
  const AttentionCost delta = CostOf(s, config);
  config.mode = AttentionMode::kRecompute;
  const AttentionCost recompute = CostOf(s, config);
  EXPECT_EQ(recompute.dense_queries, delta.dense_queries);
  EXPECT_EQ(recompute.dense_score_pairs, delta.dense_score_pairs);
  EXPECT_EQ(recompute.sparse_score_pairs, delta.sparse_score_pairs);
}

TEST(AttentionCost, ProbesAddOneDenseQueryPerProbedGroup) {
  const int64_t s = 2000;
  AttentionConfig config{AttentionMode::kDelta, 256, 64, 64};
  const AttentionCost without = CostOf(s, config);
  config.probe_fraction = 0.25;
  const AttentionCost with = CostOf(s, config);
  const int64_t sparse_end = reference::SparseEnd(s, config.lambda);
  int64_t probes = 0;
  for (int64_t group = 0; group * config.lambda + config.lambda / 2 < sparse_end; group += 4) ++probes;
  EXPECT_EQ(with.dense_queries - without.dense_queries, probes);
  EXPECT_EQ(with.sparse_score_pairs, without.sparse_score_pairs);
}

TEST(AttentionCost, AddsUpOverCalls) {
  const int64_t s = 500;
  const auto inputs = reference::AttentionInputs::Random(s, 1, 1, 8, 2);
  const AttentionConfig config{AttentionMode::kSparse, 64, 16, 64};
  AttentionCost cost;
  PrefillAttention(inputs.q, inputs.k, inputs.v, 0, s, config, {nullptr, nullptr, &cost});
  const AttentionCost once = cost;
  PrefillAttention(inputs.q, inputs.k, inputs.v, 0, s, config, {nullptr, nullptr, &cost});
  EXPECT_EQ(cost.sparse_queries, 2 * once.sparse_queries);
  EXPECT_EQ(cost.sparse_score_pairs, 2 * once.sparse_score_pairs);
}

}  // namespace
}  // namespace deltaserve
