// Whatever else the engine runs beside a greedy request (64 concurrent ones, a prompt
// split into prefill chunks, preemption under a tiny KV cache), it returns exactly what
// the same request returns alone.

#include <future>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "tests/server/serving_stories260k.h"

namespace deltaserve::testing {
namespace {

// Different prompts and lengths, all from one seed.
std::vector<v1::GenerateRequest> VariedRequests(int count, int max_prompt, int max_tokens) {
  std::mt19937 rng(7);
  std::vector<v1::GenerateRequest> requests;
  for (int i = 0; i < count; ++i) {
    std::vector<uint32_t> prompt{1};
    const int length = std::uniform_int_distribution<int>(1, max_prompt)(rng);
    for (int j = 0; j < length; ++j) prompt.push_back(std::uniform_int_distribution<uint32_t>(3, 511)(rng));
    const auto tokens = static_cast<uint32_t>(std::uniform_int_distribution<int>(1, max_tokens)(rng));
    v1::GenerateRequest request = GreedyRequest(prompt, tokens);
    request.mutable_sampling()->set_ignore_eos(true);
    requests.push_back(request);
  }
  return requests;
}

std::vector<std::vector<uint32_t>> RunOneByOne(const client::DeltaServeClient& client,
                                               const std::vector<v1::GenerateRequest>& requests) {
  std::vector<std::vector<uint32_t>> outputs;
  for (const v1::GenerateRequest& request : requests) {
    absl::StatusOr<v1::GenerateResponse> response = client.Generate(request);
    EXPECT_TRUE(response.ok()) << response.status();
    outputs.push_back(response.ok() ? Ids(*response) : std::vector<uint32_t>{});
  }
  return outputs;
}

std::vector<std::vector<uint32_t>> RunAllAtOnce(const client::DeltaServeClient& client,
                                                const std::vector<v1::GenerateRequest>& requests) {
  std::vector<std::future<absl::StatusOr<v1::GenerateResponse>>> futures;
  for (const v1::GenerateRequest& request : requests) {
    futures.push_back(std::async(std::launch::async, [&client, request] { return client.Generate(request); }));
  }
  std::vector<std::vector<uint32_t>> outputs;
  for (auto& future : futures) {
    absl::StatusOr<v1::GenerateResponse> response = future.get();
    EXPECT_TRUE(response.ok()) << response.status();
    outputs.push_back(response.ok() ? Ids(*response) : std::vector<uint32_t>{});
  }
  return outputs;
}

TEST(BatchingMatchesAlone, SixtyFourConcurrentRequests) {
  std::unique_ptr<server::DeltaServer> server = StartStories260KServer(SmallModelOptions());
  ASSERT_NE(server, nullptr);
  const client::DeltaServeClient client(Target(*server));
  const std::vector<v1::GenerateRequest> requests = VariedRequests(64, 48, 24);
  const auto alone = RunOneByOne(client, requests);
  const auto together = RunAllAtOnce(client, requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(together[i], alone[i]) << "request " << i;
    EXPECT_EQ(alone[i].size(), requests[i].sampling().max_tokens()) << "request " << i;
  }
}

TEST(BatchingMatchesAlone, LongPromptPrefilledInChunks) {
  std::vector<uint32_t> prompt{1};
  for (uint32_t i = 0; i < 200; ++i) prompt.push_back(3 + (i * 37) % 500);
  v1::GenerateRequest request = GreedyRequest(prompt, 16);
  request.mutable_sampling()->set_ignore_eos(true);

  std::unique_ptr<server::DeltaServer> one_shot = StartStories260KServer(SmallModelOptions());
  ASSERT_NE(one_shot, nullptr);
  absl::StatusOr<v1::GenerateResponse> expected = client::DeltaServeClient(Target(*one_shot)).Generate(request);
  ASSERT_TRUE(expected.ok()) << expected.status();

  server::ModelOptions chunked_options = SmallModelOptions();
  chunked_options.engine.max_num_batched_tokens = 32;
  std::unique_ptr<server::DeltaServer> chunked = StartStories260KServer(chunked_options);
  ASSERT_NE(chunked, nullptr);
  absl::StatusOr<v1::GenerateResponse> got = client::DeltaServeClient(Target(*chunked)).Generate(request);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(Ids(*got), Ids(*expected));
  // 201 prompt tokens at 32 a step take 7 steps, then one step per further token.
  EXPECT_EQ(ScrapeMetrics(*chunked)["deltaserve_step_duration_seconds_count"], 7 + 15);
  EXPECT_EQ(ScrapeMetrics(*one_shot)["deltaserve_step_duration_seconds_count"], 1 + 15);
}

TEST(BatchingMatchesAlone, PreemptedRequestsStillReturnTheirOutput) {
  server::ModelOptions tiny = SmallModelOptions();
  // stories260K: 5 layers x 4 KV heads x head_dim 8 x K and V x 4 bytes = 1280 bytes a
  // token; 24 blocks of 16 tokens hold about four of the requests below at once.
  tiny.engine.kv_cache_bytes = 24 * 16 * 1280;
  std::unique_ptr<server::DeltaServer> server = StartStories260KServer(tiny);
  ASSERT_NE(server, nullptr);
  const client::DeltaServeClient client(Target(*server));
  std::vector<v1::GenerateRequest> requests = VariedRequests(12, 40, 48);
  for (v1::GenerateRequest& request : requests) request.mutable_sampling()->set_max_tokens(48);
  const auto alone = RunOneByOne(client, requests);
  const auto together = RunAllAtOnce(client, requests);
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(together[i], alone[i]) << "request " << i;
  EXPECT_GT(ScrapeMetrics(*server)["deltaserve_preemptions_total"], 0);
  EXPECT_EQ(AwaitMetric(*server, "deltaserve_kv_cache_usage_ratio", 0), 0);
}

}  // namespace
}  // namespace deltaserve::testing
