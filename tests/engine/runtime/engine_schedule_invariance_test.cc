// However the scheduler slices the work (chunked prefill, batching with other requests,
// preemption under a tiny cache, prefix-cache hits), a greedy request returns exactly
// the tokens it returns alone.

#include <gtest/gtest.h>

#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

std::vector<int32_t> RunAlone(const std::vector<int32_t>& prompt, int64_t max_tokens) {
  auto engine = MakeStories260KEngine();
  EXPECT_TRUE(engine->AddRequest({"alone", prompt, Greedy(max_tokens), DenseAttention(), 0}).ok());
  return RunToCompletion(*engine)["alone"].ids;
}

TEST(EngineScheduleInvariance, ChunkedPrefillEqualsOneShot) {
  const std::vector<int32_t> prompt = PromptOfLength(150, 1);
  const std::vector<int32_t> expected = RunAlone(prompt, 20);
  for (int64_t chunk : {7, 16, 64}) {
    EngineConfig config = SmallEngineConfig();
    config.max_num_batched_tokens = chunk;
    auto engine = MakeStories260KEngine(config);
    ASSERT_TRUE(engine->AddRequest({"chunked", prompt, Greedy(20), DenseAttention(), 0}).ok());
    EXPECT_EQ(RunToCompletion(*engine)["chunked"].ids, expected) << "chunk " << chunk;
  }
}

// stories260K's context is 512: small sparse geometry so that a 300-token prompt has a
// real sparse region, anchors and a tail.
AttentionConfig SmallDelta() { return AttentionConfig{AttentionMode::kDelta, 32, 4, 8, 0.0}; }

std::vector<int32_t> RunDelta(const EngineConfig& config, const std::vector<int32_t>& prompt) {
  auto engine = MakeStories260KEngine(config);
  EXPECT_TRUE(engine->AddRequest({"delta", prompt, Greedy(12), SmallDelta(), 0}).ok());
  return RunToCompletion(*engine)["delta"].ids;
}

TEST(EngineScheduleInvariance, DeltaChunkedPrefillEqualsOneShot) {
  const std::vector<int32_t> prompt = PromptOfLength(300, 5);
  const std::vector<int32_t> expected = RunDelta(SmallEngineConfig(), prompt);
  for (int64_t chunk : {7, 50}) {
    EngineConfig config = SmallEngineConfig();
    config.max_num_batched_tokens = chunk;
    EXPECT_EQ(RunDelta(config, prompt), expected) << "chunk " << chunk;
  }
}

TEST(EngineScheduleInvariance, DeltaPrefixCacheHitResumesOnAnchorGridWithSameOutput) {
  EngineConfig config = SmallEngineConfig();
  config.block_size = 12;  // not a multiple of lambda 8: hits must round to 24 tokens
  auto engine = MakeStories260KEngine(config);
  const std::vector<int32_t> prompt = PromptOfLength(300, 6);
  ASSERT_TRUE(engine->AddRequest({"first", prompt, Greedy(12), SmallDelta(), 0}).ok());
  const Completion first = RunToCompletion(*engine)["first"];
  ASSERT_TRUE(engine->AddRequest({"second", prompt, Greedy(12), SmallDelta(), 0}).ok());
  const Completion second = RunToCompletion(*engine)["second"];
  EXPECT_EQ(second.cached_prompt_tokens % 24, 0);
  EXPECT_GT(second.cached_prompt_tokens, 200);
  EXPECT_EQ(second.ids, first.ids);
}

TEST(EngineScheduleInvariance, BatchedRequestsEqualAlone) {
  auto engine = MakeStories260KEngine();
  std::map<std::string, std::vector<int32_t>> expected;
  for (int i = 0; i < 8; ++i) {
    const std::vector<int32_t> prompt = PromptOfLength(5 + 13 * i, i);
    const int64_t max_tokens = 5 + 3 * i;
    expected["r" + std::to_string(i)] = RunAlone(prompt, max_tokens);
    ASSERT_TRUE(engine->AddRequest({"r" + std::to_string(i), prompt, Greedy(max_tokens), DenseAttention(), 0}).ok());
  }
  std::map<std::string, Completion> completions = RunToCompletion(*engine);
  for (const auto& [id, ids] : expected) EXPECT_EQ(completions[id].ids, ids) << id;
}

TEST(EngineScheduleInvariance, PreemptionUnderTinyCacheKeepsOutputs) {
  EngineConfig config = SmallEngineConfig();
  config.block_size = 4;
  // 5 layers x 2 x 4 tokens x 4 heads x 8 dims x 4 bytes = 5120 bytes a block; 40 blocks.
  config.kv_cache_bytes = 40 * 5120;
  auto engine = MakeStories260KEngine(config);
  std::map<std::string, std::vector<int32_t>> expected;
  for (int i = 0; i < 6; ++i) {
    const std::vector<int32_t> prompt = PromptOfLength(20 + 5 * i, i);
    expected["p" + std::to_string(i)] = RunAlone(prompt, 40);
    ASSERT_TRUE(engine->AddRequest({"p" + std::to_string(i), prompt, Greedy(40), DenseAttention(), 0}).ok());
  }
  std::map<std::string, Completion> completions = RunToCompletion(*engine);
  EXPECT_GT(engine->stats().preemptions, 0);
  for (const auto& [id, ids] : expected) EXPECT_EQ(completions[id].ids, ids) << id;
  EXPECT_EQ(engine->stats().kv_cache_usage, 0.0);
}

TEST(EngineScheduleInvariance, RepeatedPromptHitsPrefixCacheWithSameOutput) {
  auto engine = MakeStories260KEngine();
  const std::vector<int32_t> prompt = PromptOfLength(100, 3);
  ASSERT_TRUE(engine->AddRequest({"first", prompt, Greedy(10), DenseAttention(), 0}).ok());
  const Completion first = RunToCompletion(*engine)["first"];
  EXPECT_EQ(first.cached_prompt_tokens, 0);
  ASSERT_TRUE(engine->AddRequest({"second", prompt, Greedy(10), DenseAttention(), 0}).ok());
  const Completion second = RunToCompletion(*engine)["second"];
  // Every full block before the one holding the last prompt token: 6 blocks of 16.
  EXPECT_EQ(second.cached_prompt_tokens, 96);
  EXPECT_EQ(engine->stats().prefix_cache_hits, 96);
  EXPECT_EQ(second.ids, first.ids);
}

TEST(EngineScheduleInvariance, AbortFreesEveryBlock) {
  auto engine = MakeStories260KEngine();
  ASSERT_TRUE(engine->AddRequest({"a", PromptOfLength(50, 1), Greedy(100), DenseAttention(), 0}).ok());
  ASSERT_TRUE(engine->Step().ok());
  EXPECT_GT(engine->stats().kv_cache_usage, 0.0);
  std::vector<RequestOutput> outputs = engine->Abort("a");
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].finish_reason, FinishReason::kCancelled);
  EXPECT_FALSE(engine->HasUnfinishedRequests());
  EXPECT_EQ(engine->stats().kv_cache_usage, 0.0);
}

}  // namespace
}  // namespace deltaserve::testing
