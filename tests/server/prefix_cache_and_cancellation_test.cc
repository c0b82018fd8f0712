// Engine state seen through /metrics: a repeated prompt hits the prefix cache with an
// identical output; a cancelled, disconnected or timed-out request stops within a step
// and gives every KV-cache block back.

#include <thread>

#include <gtest/gtest.h>

#include "tests/server/serving_stories260k.h"

namespace deltaserve::testing {
namespace {

class EngineStateInMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartStories260KServer(SmallModelOptions());
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel(Target(*server_), grpc::InsecureChannelCredentials());
    stub_ = v1::GenerateService::NewStub(channel_);
  }

  // A request that would run for a long time: the whole context of stories260K.
  static v1::GenerateStreamRequest LongStream() {
    v1::GenerateStreamRequest request;
    *request.mutable_request() = GreedyRequest({1, 403, 407}, 500);
    request.mutable_request()->mutable_sampling()->set_ignore_eos(true);
    return request;
  }

  std::unique_ptr<server::DeltaServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::GenerateService::Stub> stub_;
};

TEST_F(EngineStateInMetrics, RepeatedPromptHitsThePrefixCache) {
  const client::DeltaServeClient client(Target(*server_));
  std::vector<uint32_t> prompt{1};
  for (uint32_t i = 0; i < 40; ++i) prompt.push_back(3 + (i * 11) % 500);  // two full blocks of 16 and 9 more
  absl::StatusOr<v1::GenerateResponse> first = client.Generate(GreedyRequest(prompt, 12));
  ASSERT_TRUE(first.ok()) << first.status();
  const double hits_before = ScrapeMetrics(*server_)["deltaserve_prefix_cache_hits_total"];
  absl::StatusOr<v1::GenerateResponse> second = client.Generate(GreedyRequest(prompt, 12));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Ids(*second), Ids(*first));
  EXPECT_EQ(first->usage().cached_prompt_tokens(), 0u);
  EXPECT_EQ(second->usage().cached_prompt_tokens(), 32u);
  std::map<std::string, double> metrics = ScrapeMetrics(*server_);
  // Both metrics count tokens: the two full blocks of the second prompt were found.
  EXPECT_EQ(metrics["deltaserve_prefix_cache_hits_total"], hits_before + 32);
  EXPECT_EQ(metrics["deltaserve_prefix_cache_queries_total"], 2 * prompt.size());
}

TEST_F(EngineStateInMetrics, CancelledStreamFreesEveryBlock) {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::GenerateStreamResponse>> reader =
      stub_->GenerateStream(&context, LongStream());
  v1::GenerateStreamResponse message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_GT(ScrapeMetrics(*server_)["deltaserve_kv_cache_usage_ratio"], 0);
  context.TryCancel();
  while (reader->Read(&message)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(AwaitMetric(*server_, "deltaserve_kv_cache_usage_ratio", 0), 0);
  EXPECT_EQ(AwaitMetric(*server_, "deltaserve_requests_running", 0), 0);
  EXPECT_EQ(AwaitMetric(*server_,
                        "deltaserve_requests_total{finish_reason=\"cancelled\",status=\"cancelled\"}", 1), 1);
}

TEST_F(EngineStateInMetrics, DeadlineStopsTheRequestAndFreesItsBlocks) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  v1::GenerateResponse response;
  const grpc::Status status = stub_->Generate(&context, LongStream().request(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(AwaitMetric(*server_, "deltaserve_kv_cache_usage_ratio", 0), 0);
  EXPECT_EQ(AwaitMetric(*server_, "deltaserve_requests_running", 0), 0);
}

TEST_F(EngineStateInMetrics, DisconnectedClientFreesEveryBlock) {
  {
    auto channel = grpc::CreateChannel(Target(*server_), grpc::InsecureChannelCredentials());
    auto stub = v1::GenerateService::NewStub(channel);
    grpc::ClientContext context;
    auto reader = stub->GenerateStream(&context, LongStream());
    v1::GenerateStreamResponse message;
    ASSERT_TRUE(reader->Read(&message));
    // Leaving the scope drops the reader, the context and the channel mid-stream.
    context.TryCancel();
  }
  EXPECT_EQ(AwaitMetric(*server_, "deltaserve_kv_cache_usage_ratio", 0), 0);
  EXPECT_EQ(AwaitMetric(*server_, "deltaserve_requests_running", 0), 0);
}

TEST_F(EngineStateInMetrics, EveryDesignMetricIsExported) {
  ASSERT_TRUE(client::DeltaServeClient(Target(*server_)).Generate(GreedyRequest({1}, 4)).ok());
  const std::map<std::string, double> metrics = ScrapeMetrics(*server_);
  for (const char* name :
       {"deltaserve_time_to_first_token_seconds_count", "deltaserve_time_per_output_token_seconds_count",
        "deltaserve_request_duration_seconds_count", "deltaserve_queue_wait_seconds_count",
        "deltaserve_step_duration_seconds_count", "deltaserve_prefill_attention_seconds_count{mode=\"delta\"}",
        "deltaserve_attention_cosine_similarity_count{kind=\"anchor_sparse\"}",
        "deltaserve_requests_total{finish_reason=\"length\",status=\"ok\"}", "deltaserve_prompt_tokens_total",
        "deltaserve_generation_tokens_total", "deltaserve_preemptions_total", "deltaserve_passes_launched_ahead_total",
        "deltaserve_prefix_cache_hits_total",
        "deltaserve_prefix_cache_queries_total", "deltaserve_requests_running", "deltaserve_requests_waiting",
        "deltaserve_kv_cache_usage_ratio"}) {
    EXPECT_EQ(metrics.count(name), 1u) << name;
  }
  EXPECT_EQ(metrics.at("deltaserve_generation_tokens_total"), 4);
  EXPECT_EQ(metrics.at("deltaserve_prompt_tokens_total"), 1);
  EXPECT_EQ(metrics.at("deltaserve_time_per_output_token_seconds_count"), 1);
}

}  // namespace
}  // namespace deltaserve::testing
