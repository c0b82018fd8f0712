// Health follows the server's life (NOT_SERVING until the model is loaded and while
// draining), and SIGTERM drains the real binary: running requests finish, new ones are
// refused, the exit code is 0; past the drain timeout the rest are cancelled.

#include <signal.h>

#include <future>
#include <regex>

#include <gtest/gtest.h>

#include "tests/server/serving_stories260k.h"
#include "tests/support/background_process.h"

namespace deltaserve::testing {
namespace {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

v1::GenerateRequest LongRequest() {
  v1::GenerateRequest request = GreedyRequest({1, 403}, 500);
  request.mutable_sampling()->set_ignore_eos(true);
  return request;
}

// Streams `request`, signalling `started` at the first message; returns the last
// message and the status.
std::pair<v1::GenerateStreamResponse, absl::Status> StreamInBackground(const std::string& target,
                                                                        const v1::GenerateRequest& request,
                                                                        std::promise<void>& started) {
  v1::GenerateStreamResponse last;
  bool first = true;
  const absl::Status status =
      client::DeltaServeClient(target).GenerateStream(request, [&](const v1::GenerateStreamResponse& message) {
        if (first) started.set_value();
        first = false;
        last = message;
      });
  if (first) started.set_value();
  return {last, status};
}

TEST(Health, NotServingUntilLoadedAndWhileDraining) {
  std::unique_ptr<server::DeltaServer> server = StartStories260KServer(SmallModelOptions(), /*load=*/false);
  ASSERT_NE(server, nullptr);
  const client::DeltaServeClient client(Target(*server));
  EXPECT_EQ(client.Health().value_or(ServingStatus::HealthCheckResponse_ServingStatus_UNKNOWN),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(client.Generate(GreedyRequest({1}, 4)).status().code(), absl::StatusCode::kUnavailable);

  absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_TRUE(server->LoadModel(*std::move(source), SmallModelOptions()).ok());
  EXPECT_EQ(client.Health().value_or(ServingStatus::HealthCheckResponse_ServingStatus_UNKNOWN),
            grpc::health::v1::HealthCheckResponse::SERVING);

  std::promise<void> started;
  auto running = std::async(std::launch::async, [&] { return StreamInBackground(Target(*server), LongRequest(), started); });
  started.get_future().wait();
  auto draining = std::async(std::launch::async, [&] { server->Drain(absl::Seconds(30)); });
  ServingStatus during = grpc::health::v1::HealthCheckResponse::SERVING;
  for (int attempt = 0; attempt < 100 && during == grpc::health::v1::HealthCheckResponse::SERVING; ++attempt) {
    during = client.Health().value_or(ServingStatus::HealthCheckResponse_ServingStatus_UNKNOWN);
  }
  EXPECT_EQ(during, grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(client.Generate(GreedyRequest({1}, 4)).status().code(), absl::StatusCode::kUnavailable);
  const auto [last, status] = running.get();
  draining.get();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(last.finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(last.usage().completion_tokens(), 500u);
}

class RealBinary : public ::testing::Test {
 protected:
  // Starts deltaserve on stories260K and returns its gRPC target, read from its log.
  std::string Start(const std::string& drain_timeout) {
    process_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        DELTASERVE_BINARY, "--model", Stories260KDir(), "--listen", "127.0.0.1:0", "--metrics-listen",
        "127.0.0.1:0", "--kv-cache-bytes", "16777216", "--attention-mode", "dense", "--drain-timeout",
        drain_timeout});
    const std::optional<std::string> log = process_->AwaitStderr("deltaserve: serving", std::chrono::seconds(60));
    EXPECT_TRUE(log.has_value()) << process_->stderr_text();
    std::smatch match;
    const std::string text = log.value_or("");
    EXPECT_TRUE(std::regex_search(text, match, std::regex("gRPC on (127\\.0\\.0\\.1:[0-9]+)"))) << text;
    return match.size() > 1 ? match[1].str() : "";
  }

  // Starts the binary, sends SIGTERM while a 500-token stream runs, and returns how the
  // stream ended.
  std::pair<v1::GenerateStreamResponse, absl::Status> SigtermDuringLongStream(const std::string& drain_timeout) {
    const std::string target = Start(drain_timeout);
    EXPECT_FALSE(target.empty());
    std::promise<void> started;
    auto running = std::async(std::launch::async, [&] { return StreamInBackground(target, LongRequest(), started); });
    started.get_future().wait();
    process_->Signal(SIGTERM);
    return running.get();
  }

  std::unique_ptr<BackgroundProcess> process_;
};

TEST_F(RealBinary, SigtermLetsRunningRequestsFinishAndExitsZero) {
  const auto [last, status] = SigtermDuringLongStream("30");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(last.finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(last.usage().completion_tokens(), 500u);
  EXPECT_EQ(process_->Wait(), 0) << process_->stderr_text();
  EXPECT_NE(process_->stderr_text().find("draining"), std::string::npos);
  EXPECT_NE(process_->stderr_text().find("status=ok finish=length tokens_in=2 tokens_out=500"), std::string::npos)
      << process_->stderr_text();
}

TEST_F(RealBinary, RequestsPastTheDrainTimeoutAreCancelled) {
  const auto [last, status] = SigtermDuringLongStream("0.05");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(last.finish_reason(), v1::FINISH_REASON_CANCELLED);
  EXPECT_LT(last.usage().completion_tokens(), 500u);
  EXPECT_EQ(process_->Wait(), 0) << process_->stderr_text();
}

}  // namespace
}  // namespace deltaserve::testing
