// Beyond --max-queue waiting requests the server answers RESOURCE_EXHAUSTED at once,
// and the requests it accepted still complete in full.

#include <future>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/server/serving_stories260k.h"

namespace deltaserve::testing {
namespace {

TEST(Overload, RequestsBeyondTheQueueAreRefusedAndTheOthersComplete) {
  server::ModelOptions options = SmallModelOptions();
  options.engine.max_num_seqs = 1;
  options.max_queue = 2;
  std::unique_ptr<server::DeltaServer> server = StartStories260KServer(options);
  ASSERT_NE(server, nullptr);
  const client::DeltaServeClient client(Target(*server));
  v1::GenerateRequest request = GreedyRequest({1, 403}, 100);
  request.mutable_sampling()->set_ignore_eos(true);

  // One request runs (max-num-seqs 1) and keeps running while the burst arrives.
  v1::GenerateRequest long_request = GreedyRequest({1, 403}, 500);
  long_request.mutable_sampling()->set_ignore_eos(true);
  std::promise<void> started;
  auto running = std::async(std::launch::async, [&] {
    bool first = true;
    return client.GenerateStream(long_request, [&](const v1::GenerateStreamResponse&) {
      if (first) started.set_value();
      first = false;
    });
  });
  started.get_future().wait();

  std::vector<std::future<absl::StatusOr<v1::GenerateResponse>>> burst;
  for (int i = 0; i < 10; ++i) {
    burst.push_back(std::async(std::launch::async, [&] { return client.Generate(request); }));
  }
  int completed = 0;
  for (auto& future : burst) {
    absl::StatusOr<v1::GenerateResponse> response = future.get();
    if (response.ok()) {
      ++completed;
      EXPECT_EQ(response->usage().completion_tokens(), 100u);
    } else {
      EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted) << response.status();
      EXPECT_THAT(std::string(response.status().message()), ::testing::HasSubstr("max-queue 2"));
    }
  }
  EXPECT_EQ(completed, 2);  // the two that fit the queue
  const absl::Status long_status = running.get();
  EXPECT_TRUE(long_status.ok()) << long_status;
}

}  // namespace
}  // namespace deltaserve::testing
