// The engine's accuracy telemetry on stories260K: per-layer means in the final output
// when asked (the same whether the prompt is prefilled at once or in chunks), every
// cosine sample and one prefill time per chunk in the step report, and nothing measured
// for dense prefill or decode. Steps that only carry prompt chunks on do not wait for the
// device, so their chunks are reported by the step that does (the prompt's last chunk);
// a request cancelled before then takes its unreported chunks with it.

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

constexpr int64_t kLayers = 5;  // stories260K

// 300 tokens of story (BOS, then the golden greedy story read cyclically).
std::vector<int32_t> LongPrompt() {
  const nlohmann::json golden = Stories260KGolden()["cases"][0];
  const auto story = golden["greedy_ids"].get<std::vector<int32_t>>();
  std::vector<int32_t> ids = golden["prompt_ids"].get<std::vector<int32_t>>();
  for (size_t i = 0; ids.size() < 300; ++i) ids.push_back(story[i % story.size()]);
  return ids;
}

GenerationRequest Request(AttentionMode mode, bool report_accuracy) {
  GenerationRequest request;
  request.request_id = "r";
  request.prompt_token_ids = LongPrompt();
  request.sampling = Greedy(4);
  request.sampling.ignore_eos = true;
  request.attention = AttentionConfig{mode, /*window=*/32, /*sink=*/4, /*lambda=*/8, /*probe_fraction=*/1.0};
  request.report_accuracy = report_accuracy;
  return request;
}

// What one request's run reported: its final layer accuracy and every step report.
struct Telemetry {
  std::vector<LayerAccuracy> layers;
  std::vector<StepAttentionReport> steps;
};

Telemetry RunOne(const GenerationRequest& request, int64_t max_num_batched_tokens) {
  EngineConfig config = SmallEngineConfig();
  config.max_num_batched_tokens = max_num_batched_tokens;
  std::unique_ptr<LLMEngine> engine = MakeStories260KEngine(config);
  Telemetry telemetry;
  if (engine == nullptr) return telemetry;
  EXPECT_TRUE(engine->AddRequest(request).ok());
  while (engine->HasUnfinishedRequests()) {
    absl::StatusOr<std::vector<RequestOutput>> outputs = engine->Step();
    EXPECT_TRUE(outputs.ok()) << outputs.status();
    if (!outputs.ok()) break;
    telemetry.steps.push_back(engine->last_step_attention());
    for (const RequestOutput& output : *outputs) {
      if (output.finished) telemetry.layers = output.layer_accuracy;
    }
  }
  return telemetry;
}

TEST(EngineReportsPrefillAccuracy, ChunkedPrefillReportsWhatOneShotDoes) {
  const Telemetry one_shot = RunOne(Request(AttentionMode::kDelta, true), 2048);
  const Telemetry chunked = RunOne(Request(AttentionMode::kDelta, true), 64);
  ASSERT_EQ(one_shot.layers.size(), static_cast<size_t>(kLayers));
  ASSERT_EQ(chunked.layers.size(), static_cast<size_t>(kLayers));
  for (int64_t layer = 0; layer < kLayers; ++layer) {
    const LayerAccuracy& a = one_shot.layers[layer];
    const LayerAccuracy& b = chunked.layers[layer];
    EXPECT_EQ(a.layer, layer);
    // s = 300, lambda 8: cut = 300 % 8 + 128 = 132, anchors 0, 8, ..., 160.
    EXPECT_EQ(a.anchors, 21);
    EXPECT_EQ(a.probes, 21);
    EXPECT_EQ(b.anchors, a.anchors);
    EXPECT_EQ(b.probes, a.probes);
    ASSERT_TRUE(a.anchor_sparse && a.probe_sparse && a.probe_delta) << layer;
    ASSERT_TRUE(b.anchor_sparse && b.probe_sparse && b.probe_delta) << layer;
    EXPECT_NEAR(*b.anchor_sparse, *a.anchor_sparse, 1e-6) << layer;
    EXPECT_NEAR(*b.probe_sparse, *a.probe_sparse, 1e-6) << layer;
    EXPECT_NEAR(*b.probe_delta, *a.probe_delta, 1e-6) << layer;
    EXPECT_LT(*a.anchor_sparse, 1.0) << layer;
  }
}

TEST(EngineReportsPrefillAccuracy, StepReportsHoldEverySampleAndOneTimePerChunk) {
  const Telemetry chunked = RunOne(Request(AttentionMode::kDelta, true), 64);
  size_t anchors = 0, probes = 0, probe_deltas = 0, chunks = 0;
  for (const StepAttentionReport& step : chunked.steps) {
    anchors += step.cosines.anchor_sparse.size();
    probes += step.cosines.probe_sparse.size();
    probe_deltas += step.cosines.probe_delta.size();
    for (const auto& [mode, seconds] : step.prefill_seconds) {
      EXPECT_EQ(mode, AttentionMode::kDelta);
      EXPECT_GT(seconds, 0.0);
      ++chunks;
    }
  }
  EXPECT_EQ(chunks, 5u) << "300 prompt tokens in chunks of 64; decode steps report none";
  EXPECT_EQ(anchors, 21u * kLayers);
  EXPECT_EQ(probes, 21u * kLayers);
  EXPECT_EQ(probe_deltas, 21u * kLayers);
}

TEST(EngineReportsPrefillAccuracy, DenseMeasuresNothingAndUnaskedGetsNoLayers) {
  const Telemetry dense = RunOne(Request(AttentionMode::kDense, true), 2048);
  ASSERT_EQ(dense.layers.size(), static_cast<size_t>(kLayers));
  for (const LayerAccuracy& layer : dense.layers) {
    EXPECT_EQ(layer.anchors, 0);
    EXPECT_EQ(layer.probes, 0);
    EXPECT_FALSE(layer.anchor_sparse || layer.probe_sparse || layer.probe_delta);
  }
  ASSERT_FALSE(dense.steps.empty());
  ASSERT_EQ(dense.steps[0].prefill_seconds.size(), 1u);
  EXPECT_EQ(dense.steps[0].prefill_seconds[0].first, AttentionMode::kDense);
  for (const StepAttentionReport& step : dense.steps) EXPECT_TRUE(step.cosines.anchor_sparse.empty());

  const Telemetry unasked = RunOne(Request(AttentionMode::kDelta, false), 2048);
  EXPECT_TRUE(unasked.layers.empty());
  EXPECT_FALSE(unasked.steps.at(0).cosines.anchor_sparse.empty()) << "metrics get the samples all the same";
}

TEST(EngineReportsPrefillAccuracy, ChunksAreReportedByTheStepThatSamples) {
  const Telemetry chunked = RunOne(Request(AttentionMode::kDelta, true), 64);
  ASSERT_GE(chunked.steps.size(), 5u);
  for (size_t step = 0; step < 4; ++step) {
    EXPECT_TRUE(chunked.steps[step].prefill_seconds.empty()) << "step " << step << " samples nothing";
    EXPECT_TRUE(chunked.steps[step].cosines.anchor_sparse.empty()) << step;
  }
  EXPECT_EQ(chunked.steps[4].prefill_seconds.size(), 5u) << "the last chunk's step reports all five";
  EXPECT_EQ(chunked.steps[4].cosines.anchor_sparse.size(), 21u * kLayers);
}

TEST(EngineReportsPrefillAccuracy, CancelledMidPromptLeavesTheNextRequestsReportWhole) {
  EngineConfig config = SmallEngineConfig();
  config.max_num_batched_tokens = 64;
  std::unique_ptr<LLMEngine> engine = MakeStories260KEngine(config);
  ASSERT_NE(engine, nullptr);
  GenerationRequest cancelled = Request(AttentionMode::kDelta, true);
  cancelled.request_id = "cancelled";
  // Another prompt, so that the next request finds none of its blocks in the prefix cache.
  std::reverse(cancelled.prompt_token_ids.begin() + 1, cancelled.prompt_token_ids.end());
  ASSERT_TRUE(engine->AddRequest(cancelled).ok());
  for (int step = 0; step < 2; ++step) ASSERT_TRUE(engine->Step().ok());
  ASSERT_EQ(engine->Abort("cancelled").size(), 1u);

  ASSERT_TRUE(engine->AddRequest(Request(AttentionMode::kDelta, true)).ok());
  std::vector<LayerAccuracy> layers;
  size_t chunks = 0;
  while (engine->HasUnfinishedRequests()) {
    absl::StatusOr<std::vector<RequestOutput>> outputs = engine->Step();
    ASSERT_TRUE(outputs.ok()) << outputs.status();
    chunks += engine->last_step_attention().prefill_seconds.size();
    for (const RequestOutput& output : *outputs) {
      if (output.finished) layers = output.layer_accuracy;
    }
  }
  EXPECT_EQ(chunks, 5u) << "the cancelled request's two chunks are not reported";
  const Telemetry alone = RunOne(Request(AttentionMode::kDelta, true), 64);
  ASSERT_EQ(layers.size(), alone.layers.size());
  for (size_t layer = 0; layer < layers.size(); ++layer) {
    EXPECT_EQ(layers[layer].anchors, alone.layers[layer].anchors) << layer;
    ASSERT_TRUE(layers[layer].anchor_sparse && alone.layers[layer].anchor_sparse) << layer;
    EXPECT_NEAR(*layers[layer].anchor_sparse, *alone.layers[layer].anchor_sparse, 1e-6) << layer;
  }
}

}  // namespace
}  // namespace deltaserve::testing
