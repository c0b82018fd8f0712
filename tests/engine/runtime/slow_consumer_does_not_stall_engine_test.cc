#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/runtime/async_engine.h"
#include "tests/engine/runtime/stories260k.h"

namespace deltaserve {
namespace {

using testing::DenseAttention;
using testing::Greedy;
using testing::MakeStories260KEngine;

GenerationRequest Request(int64_t max_tokens) {
  GenerationRequest request;
  request.prompt_token_ids = {1, 403, 407, 261, 378};
  request.sampling = Greedy(max_tokens);
  request.sampling.ignore_eos = true;
  request.attention = DenseAttention();
  return request;
}

// Consumers run on the delivery thread: one that holds its event does not stop the
// engine from stepping the other requests (it did when callbacks ran on the engine
// thread, where this consumer would have waited out its whole timeout).
TEST(SlowConsumerDoesNotStallEngineTest, OtherRequestsKeepGeneratingWhileAConsumerWaits) {
  constexpr int64_t kOtherTokens = 20;
  std::mutex mutex;
  std::condition_variable progressed;
  int64_t generated = 0;
  AsyncEngineOptions options;
  options.on_loop = [&](const EngineLoopReport& report) {
    std::lock_guard<std::mutex> lock(mutex);
    generated += report.generated_tokens;
    progressed.notify_all();
  };
  std::unique_ptr<LLMEngine> llm = MakeStories260KEngine();
  ASSERT_NE(llm, nullptr);
  AsyncEngine engine(std::move(llm), options);

  bool waited_out = false;
  ASSERT_TRUE(engine
                  .Submit(Request(1),
                          [&](RequestEvent) {
                            std::unique_lock<std::mutex> lock(mutex);
                            waited_out = !progressed.wait_for(lock, std::chrono::seconds(20),
                                                              [&] { return generated >= 1 + kOtherTokens; });
                          })
                  .ok());
  int64_t other_tokens = 0;
  ASSERT_TRUE(
      engine.Submit(Request(kOtherTokens), [&](RequestEvent event) { other_tokens += event.output.token_ids.size(); })
          .ok());

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (engine.num_unfinished() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(engine.num_unfinished(), 0);
  EXPECT_FALSE(waited_out) << "the engine did not step while a consumer held its event";
  EXPECT_EQ(other_tokens, kOtherTokens);
}

}  // namespace
}  // namespace deltaserve
