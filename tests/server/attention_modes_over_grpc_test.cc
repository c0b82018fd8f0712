// Every prefill attention mode over gRPC on stories260K with a small geometry (sink 4,
// window 32, lambda 8) and a ~300-token prompt chunked by the scheduler: each returns
// its tokens, dense continues the golden trajectory, delta with probes reports its
// accuracy per layer, and the attention histograms of /metrics fill up.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/server/serving_stories260k.h"

namespace deltaserve::testing {
namespace {

constexpr uint32_t kMaxTokens = 24;
constexpr int kLayers = 5;  // stories260K's num_hidden_layers

class AttentionModesOverGrpc : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server::ModelOptions options = SmallModelOptions();
    // Several prefill chunks per prompt: delta's correction crosses chunk borders.
    options.engine.max_num_batched_tokens = 96;
    server_ = StartStories260KServer(options).release();
  }
  static void TearDownTestSuite() { delete server_; }
  static server::DeltaServer* server_;
};
server::DeltaServer* AttentionModesOverGrpc::server_ = nullptr;

std::vector<uint32_t> GoldenTrajectory() {
  const nlohmann::json golden = Stories260KGolden()["cases"][0];
  std::vector<uint32_t> ids = golden["prompt_ids"].get<std::vector<uint32_t>>();
  const auto greedy = golden["greedy_ids"].get<std::vector<uint32_t>>();
  ids.insert(ids.end(), greedy.begin(), greedy.end());
  return ids;  // BOS, then the 200 greedy tokens
}

// 300 tokens: BOS, then the golden story read cyclically from token `first`. The server
// caches prompt prefixes whatever their mode, so every request gets its own `first`.
std::vector<uint32_t> LongPrompt(size_t first) {
  const std::vector<uint32_t> trajectory = GoldenTrajectory();
  const size_t story_len = trajectory.size() - 1;
  std::vector<uint32_t> ids{trajectory[0]};
  for (size_t i = 0; ids.size() < 300; ++i) ids.push_back(trajectory[1 + (first + i) % story_len]);
  return ids;
}

v1::GenerateRequest ModeRequest(const std::vector<uint32_t>& prompt, v1::AttentionMode mode) {
  v1::GenerateRequest request = GreedyRequest(prompt, kMaxTokens);
  request.mutable_sampling()->set_ignore_eos(true);
  v1::AttentionParams* attention = request.mutable_attention();
  attention->set_mode(mode);
  attention->set_sink(4);
  attention->set_window(32);
  attention->set_lambda(8);
  return request;
}

v1::GenerateRequest DeltaWithAccuracy(size_t first) {
  v1::GenerateRequest request = ModeRequest(LongPrompt(first), v1::ATTENTION_MODE_DELTA);
  request.mutable_attention()->set_probe_fraction(1.0f);
  request.mutable_attention()->set_report_accuracy(true);
  return request;
}

void ExpectCosine(bool has, float value, const std::string& what) {
  ASSERT_TRUE(has) << what;
  EXPECT_GE(value, -1.0f) << what;
  EXPECT_LE(value, 1.0f + 1e-6f) << what;
}

void ExpectEveryLayerMeasured(const google::protobuf::RepeatedPtrField<v1::LayerAccuracy>& layers) {
  ASSERT_EQ(layers.size(), kLayers);
  float lowest_anchor = 1.0f;
  for (int i = 0; i < layers.size(); ++i) {
    const v1::LayerAccuracy& layer = layers[i];
    const std::string what = "layer " + std::to_string(i);
    EXPECT_EQ(layer.layer(), static_cast<uint32_t>(i));
    // s = 300, lambda 8: cut = 300 % 8 + 128 = 132, so 168 sparse positions and 21 anchors.
    EXPECT_EQ(layer.anchors(), 21u) << what;
    EXPECT_GT(layer.probes(), 0u) << what;
    ExpectCosine(layer.has_anchor_sparse(), layer.anchor_sparse(), what + " anchor_sparse");
    ExpectCosine(layer.has_probe_sparse(), layer.probe_sparse(), what + " probe_sparse");
    ExpectCosine(layer.has_probe_delta(), layer.probe_delta(), what + " probe_delta");
    lowest_anchor = std::min(lowest_anchor, layer.anchor_sparse());
  }
  // A 32-token window over 168 sparse positions hides keys from most anchors.
  EXPECT_LT(lowest_anchor, 0.9999f);
}

TEST_F(AttentionModesOverGrpc, EveryModeReturnsMaxTokens) {
  const client::DeltaServeClient client(Target(*server_));
  size_t first = 1;
  for (v1::AttentionMode mode : {v1::ATTENTION_MODE_DENSE, v1::ATTENTION_MODE_SPARSE, v1::ATTENTION_MODE_RECOMPUTE,
                                 v1::ATTENTION_MODE_DELTA}) {
    absl::StatusOr<v1::GenerateResponse> response = client.Generate(ModeRequest(LongPrompt(first++), mode));
    ASSERT_TRUE(response.ok()) << v1::AttentionMode_Name(mode) << ": " << response.status();
    EXPECT_EQ(response->token_ids_size(), static_cast<int>(kMaxTokens)) << v1::AttentionMode_Name(mode);
    EXPECT_EQ(response->finish_reason(), v1::FINISH_REASON_LENGTH) << v1::AttentionMode_Name(mode);
    EXPECT_EQ(response->layer_accuracy_size(), 0) << "not asked for";
  }
}

TEST_F(AttentionModesOverGrpc, DenseContinuesTheGoldenTrajectory) {
  const client::DeltaServeClient client(Target(*server_));
  const std::vector<uint32_t> trajectory = GoldenTrajectory();
  const size_t prompt_len = trajectory.size() - kMaxTokens;
  const std::vector<uint32_t> prompt(trajectory.begin(), trajectory.begin() + static_cast<std::ptrdiff_t>(prompt_len));
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(ModeRequest(prompt, v1::ATTENTION_MODE_DENSE));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Ids(*response), std::vector<uint32_t>(trajectory.begin() + static_cast<std::ptrdiff_t>(prompt_len),
                                                  trajectory.end()));
}

TEST_F(AttentionModesOverGrpc, DeltaWithProbesReportsAccuracyPerLayer) {
  const client::DeltaServeClient client(Target(*server_));
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(DeltaWithAccuracy(10));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->token_ids_size(), static_cast<int>(kMaxTokens));
  ExpectEveryLayerMeasured(response->layer_accuracy());
}

TEST_F(AttentionModesOverGrpc, StreamCarriesAccuracyOnTheLastMessage) {
  const client::DeltaServeClient client(Target(*server_));
  std::vector<v1::GenerateStreamResponse> messages;
  const absl::Status status = client.GenerateStream(
      DeltaWithAccuracy(11), [&](const v1::GenerateStreamResponse& message) { messages.push_back(message); });
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_FALSE(messages.empty());
  for (size_t i = 0; i + 1 < messages.size(); ++i) EXPECT_EQ(messages[i].layer_accuracy_size(), 0) << i;
  ExpectEveryLayerMeasured(messages.back().layer_accuracy());
}

TEST_F(AttentionModesOverGrpc, MetricsObserveEveryCosineKindAndPrefillMode) {
  const client::DeltaServeClient client(Target(*server_));
  std::map<std::string, double> before = ScrapeMetrics(*server_);
  ASSERT_TRUE(client.Generate(DeltaWithAccuracy(12)).ok());
  ASSERT_TRUE(client.Generate(ModeRequest(LongPrompt(13), v1::ATTENTION_MODE_SPARSE)).ok());
  // The loop publishes a step's metrics before its outputs reach the client.
  std::map<std::string, double> after = ScrapeMetrics(*server_);
  for (const char* kind : {"anchor_sparse", "probe_sparse", "probe_delta"}) {
    const std::string count = std::string("deltaserve_attention_cosine_similarity_count{kind=\"") + kind + "\"}";
    EXPECT_GE(after[count] - before[count], 21 * kLayers) << count;
  }
  for (const char* mode : {"delta", "sparse"}) {
    const std::string count = std::string("deltaserve_prefill_attention_seconds_count{mode=\"") + mode + "\"}";
    // 300 prompt tokens in chunks of at most 96.
    EXPECT_GE(after[count] - before[count], 4) << count;
    const std::string sum = std::string("deltaserve_prefill_attention_seconds_sum{mode=\"") + mode + "\"}";
    EXPECT_GT(after[sum] - before[sum], 0) << sum;
  }
  const std::string dense = "deltaserve_prefill_attention_seconds_count{mode=\"dense\"}";
  EXPECT_EQ(after[dense], before[dense]) << "no dense prefill ran";
}

}  // namespace
}  // namespace deltaserve::testing
