// A step whose forward pass throws (a CUDA out-of-memory error, say) ends the requests it
// ran with the error and frees their blocks; a request waiting outside that step keeps its
// place and generates exactly what it generates alone. Before, every request the engine
// held failed with it.

#include <ATen/ATen.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/runtime/async_engine.h"
#include "engine/runtime/device_model.h"
#include "engine/runtime/model_source.h"
#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int64_t kFailingPromptLen = 5;
// The failing request's third decode step: it and its batch partner are mid-generation.
constexpr int64_t kFailingPosition = kFailingPromptLen + 2;

// The CPU backend, except that a pass fails while the request with the failing prompt
// length decodes at kFailingPosition, as an allocation would fail on a device.
class FailingAttention : public AttentionBackend {
 public:
  explicit FailingAttention(std::unique_ptr<AttentionBackend> inner) : inner_(std::move(inner)) {}

  void BeginForward(const AttentionBatch& batch) override { inner_->BeginForward(batch); }

  at::Tensor Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionBatch& batch) override {
    for (const AttentionSequence& seq : batch.sequences) {
      TORCH_CHECK(!(layer == 1 && seq.prompt_len == kFailingPromptLen && seq.start_position == kFailingPosition),
                  "out of memory at layer 1");
    }
    return inner_->Forward(layer, q, k, v, batch);
  }

  void EndForward() override { inner_->EndForward(); }

 private:
  std::unique_ptr<AttentionBackend> inner_;
};

EngineConfig TwoSeqConfig() {
  EngineConfig config = SmallEngineConfig();
  config.max_num_seqs = 2;
  return config;
}

std::unique_ptr<LLMEngine> MakeFailingEngine(bool async_scheduling = false) {
  EngineConfig config = TwoSeqConfig();
  config.async_scheduling = async_scheduling;
  absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return nullptr;
  absl::StatusOr<DeviceModel> device_model =
      BuildCpuModel(source->config, std::move(source->weights), TwoSeqConfig());
  EXPECT_TRUE(device_model.ok()) << device_model.status();
  if (!device_model.ok()) return nullptr;
  device_model->attention = std::make_unique<FailingAttention>(std::move(device_model->attention));
  absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      LLMEngine::Create(*std::move(device_model), source->tokenizer, config);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

GenerationRequest Request(std::string id, int64_t prompt_len) {
  GenerationRequest request;
  request.request_id = std::move(id);
  for (int64_t i = 0; i < prompt_len; ++i) request.prompt_token_ids.push_back(static_cast<int32_t>(300 + 7 * i));
  request.sampling = Greedy(12);
  request.sampling.ignore_eos = true;
  request.attention = DenseAttention();
  return request;
}

// The failing request and its partner run together (max_num_seqs 2); "waiting" waits.
std::vector<GenerationRequest> ThreeRequests() {
  return {Request("failing", kFailingPromptLen), Request("partner", 6), Request("waiting", 7)};
}

std::vector<int32_t> AloneIds(const GenerationRequest& request) {
  std::unique_ptr<LLMEngine> engine = MakeStories260KEngine(TwoSeqConfig());
  if (engine == nullptr) return {};
  EXPECT_TRUE(engine->AddRequest(request).ok());
  return RunToCompletion(*engine)[request.request_id].ids;
}

TEST(FailedStepEndsOnlyItsRequestsTest, TheWaitingRequestRunsOnAsIfAlone) {
  const std::vector<GenerationRequest> requests = ThreeRequests();
  const std::vector<int32_t> expected = AloneIds(requests[2]);
  ASSERT_EQ(expected.size(), 12u);
  std::unique_ptr<LLMEngine> engine = MakeFailingEngine();
  ASSERT_NE(engine, nullptr);
  for (const GenerationRequest& request : requests) ASSERT_TRUE(engine->AddRequest(request).ok());

  absl::Status failure;
  std::map<std::string, Completion> completions;
  while (engine->HasUnfinishedRequests()) {
    absl::StatusOr<std::vector<RequestOutput>> outputs = engine->Step();
    if (!outputs.ok()) {
      ASSERT_TRUE(failure.ok()) << "a second step failed: " << outputs.status();
      failure = outputs.status();
      EXPECT_THAT(engine->last_step_failed_requests(), UnorderedElementsAre("failing", "partner"));
      EXPECT_EQ(engine->stats().running + engine->stats().waiting, 1);
      continue;
    }
    EXPECT_THAT(engine->last_step_failed_requests(), ::testing::IsEmpty());
    AddOutputs(*outputs, completions);
  }
  EXPECT_EQ(failure.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(failure.message(), HasSubstr("out of memory at layer 1"));
  // The prefill's token and one per decode step before the failing one.
  EXPECT_EQ(completions["failing"].ids.size(), static_cast<size_t>(kFailingPosition - kFailingPromptLen + 1));
  EXPECT_EQ(completions["waiting"].ids, expected);
  EXPECT_EQ(engine->stats().kv_cache_usage, 0.0) << "the failed requests' blocks were not freed";
}

// With async_scheduling the failing pass is first launched ahead, where its error is no
// request's yet: the step that then runs it in turn fails the same requests, once.
TEST(FailedStepEndsOnlyItsRequestsTest, APassFailingAheadFailsItsRequestsInTurn) {
  std::unique_ptr<LLMEngine> engine = MakeFailingEngine(/*async_scheduling=*/true);
  ASSERT_NE(engine, nullptr);
  const std::vector<GenerationRequest> requests = ThreeRequests();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(engine->AddRequest(requests[i]).ok());
  int failed_steps = 0;
  std::map<std::string, Completion> completions;
  while (engine->HasUnfinishedRequests()) {
    absl::StatusOr<std::vector<RequestOutput>> outputs = engine->Step();
    if (!outputs.ok()) {
      ++failed_steps;
      EXPECT_THAT(outputs.status().message(), HasSubstr("out of memory at layer 1"));
      EXPECT_THAT(engine->last_step_failed_requests(), UnorderedElementsAre("failing", "partner"));
      continue;
    }
    AddOutputs(*outputs, completions);
  }
  EXPECT_EQ(failed_steps, 1);
  EXPECT_GT(engine->stats().passes_launched_ahead, 0);
  EXPECT_EQ(completions["failing"].ids.size(), static_cast<size_t>(kFailingPosition - kFailingPromptLen + 1));
  EXPECT_EQ(engine->stats().kv_cache_usage, 0.0);
}

TEST(FailedStepEndsOnlyItsRequestsTest, AsyncEngineFailsTheStepsRequestsAndServesTheRest) {
  const std::vector<GenerationRequest> requests = ThreeRequests();
  const std::vector<int32_t> expected = AloneIds(requests[2]);
  ASSERT_EQ(expected.size(), 12u);
  std::unique_ptr<LLMEngine> llm = MakeFailingEngine();
  ASSERT_NE(llm, nullptr);
  AsyncEngine engine(std::move(llm), AsyncEngineOptions{});

  std::mutex mutex;
  std::map<std::string, RequestEvent> last_events;
  std::map<std::string, std::vector<int32_t>> generated;
  std::map<std::string, std::string> names;  // engine id -> request name
  for (const GenerationRequest& request : requests) {
    absl::StatusOr<std::string> id = engine.Submit(request, [&](RequestEvent event) {
      std::lock_guard<std::mutex> lock(mutex);
      std::vector<int32_t>& ids = generated[event.output.request_id];
      ids.insert(ids.end(), event.output.token_ids.begin(), event.output.token_ids.end());
      if (event.last()) last_events[event.output.request_id] = std::move(event);
    });
    ASSERT_TRUE(id.ok()) << id.status();
    names[*id] = request.request_id;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (engine.num_unfinished() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(engine.num_unfinished(), 0) << "a request never had its last event";

  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(last_events.size(), 3u);
  for (const auto& [id, event] : last_events) {
    SCOPED_TRACE(names[id]);
    if (names[id] == "waiting") {
      EXPECT_TRUE(event.status.ok()) << event.status;
      EXPECT_EQ(event.output.finish_reason, FinishReason::kLength);
      EXPECT_EQ(generated[id], expected);
    } else {
      EXPECT_EQ(event.status.code(), absl::StatusCode::kInternal);
      EXPECT_THAT(event.status.message(), HasSubstr("out of memory at layer 1"));
    }
  }
  EXPECT_EQ(engine.stats().kv_cache_usage, 0.0);
}

// The seam the tests above use refuses a model that is not whole instead of crashing.
TEST(FailedStepEndsOnlyItsRequestsTest, EngineOverAnIncompleteDeviceModelIsRefused) {
  absl::StatusOr<std::unique_ptr<LLMEngine>> engine = LLMEngine::Create(DeviceModel{}, nullptr, TwoSeqConfig());
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(engine.status().message(), HasSubstr("device_model"));
}

}  // namespace
}  // namespace deltaserve::testing
