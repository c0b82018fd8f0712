// Requests the engine cannot run are refused at AddRequest with INVALID_ARGUMENT naming
// the field and the limit, and leave the engine serving the others.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

using ::testing::HasSubstr;

absl::Status Add(LLMEngine& engine, std::vector<int32_t> prompt, SamplingParams sampling) {
  return engine.AddRequest({"bad", std::move(prompt), std::move(sampling), DenseAttention(), 0});
}

TEST(EngineRejectsBadRequests, EmptyPrompt) {
  auto engine = MakeStories260KEngine();
  absl::Status status = Add(*engine, {}, Greedy(4));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("prompt"));
}

TEST(EngineRejectsBadRequests, TokenIdOutsideVocabulary) {
  auto engine = MakeStories260KEngine();
  absl::Status status = Add(*engine, {1, 600}, Greedy(4));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("prompt_token_ids[1]: 600"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("512"));
}

TEST(EngineRejectsBadRequests, PromptPlusMaxTokensBeyondMaxModelLen) {
  auto engine = MakeStories260KEngine();
  absl::Status status = Add(*engine, std::vector<int32_t>(500, 5), Greedy(20));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("500 tokens plus max_tokens 20 exceed max_model_len 512"));
}

TEST(EngineRejectsBadRequests, PromptThatCannotFitTheCache) {
  EngineConfig config = SmallEngineConfig();
  config.kv_cache_bytes = 4 * KvCache::BytesPerBlock({5, 0, 16, 4, 8}, at::kFloat);
  auto engine = MakeStories260KEngine(config);
  absl::Status status = Add(*engine, std::vector<int32_t>(60, 5), Greedy(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("need 5 KV-cache blocks, the cache has 4"));
}

TEST(EngineRejectsBadRequests, DuplicateRequestId) {
  auto engine = MakeStories260KEngine();
  ASSERT_TRUE(engine->AddRequest({"same", {1, 5}, Greedy(4), DenseAttention(), 0}).ok());
  EXPECT_EQ(engine->AddRequest({"same", {1, 5}, Greedy(4), DenseAttention(), 0}).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(EngineRejectsBadRequests, BadSamplingLeavesOtherRequestsRunning) {
  auto engine = MakeStories260KEngine();
  ASSERT_TRUE(engine->AddRequest({"good", {1, 403}, Greedy(8), DenseAttention(), 0}).ok());
  SamplingParams bad = Greedy(4);
  bad.top_p = 1.5f;
  EXPECT_EQ(Add(*engine, {1, 5}, bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunToCompletion(*engine)["good"].ids.size(), 8u);
}

}  // namespace
}  // namespace deltaserve::testing
