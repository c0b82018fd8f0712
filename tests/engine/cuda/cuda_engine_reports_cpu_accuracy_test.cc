// Issue 5, "accuracy on the GPU": the per-layer cosine figures that the engine reports for
// sparse, recompute and delta prefill on CUDA equal the CPU engine's on the same inputs
// within bf16 tolerance, whether a chunk that the GPU combines in one DeltaCombine pass
// starts on the lambda grid or off it (with the delta carry).
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <tuple>

#include "engine/runtime/llm_engine.h"
#include "tests/engine/cuda/small_models.h"

namespace deltaserve::testing {
namespace {

constexpr double kCosineTolerance = 5e-3;

std::vector<LayerAccuracy> ReportedAccuracy(ComputeDevice device, AttentionMode mode, int64_t chunk) {
  const ModelConfig config = SmallLlama(128);
  EngineConfig engine_config;
  engine_config.device = device;
  engine_config.kv_cache_bytes = 64 << 20;
  engine_config.max_num_batched_tokens = chunk;
  absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      LLMEngine::Create(config, SharpWeights(config, 7), nullptr, engine_config);
  EXPECT_TRUE(engine.ok()) << engine.status();
  if (!engine.ok()) return {};
  GenerationRequest request;
  request.request_id = "accuracy";
  const std::vector<int64_t> prompt = RandomTokens(1500, config.vocab_size, 17);
  request.prompt_token_ids.assign(prompt.begin(), prompt.end());
  request.sampling.max_tokens = 1;
  request.sampling.temperature = 0;
  request.attention = Mode(mode);
  request.attention.probe_fraction = 0.5;
  request.report_accuracy = true;
  EXPECT_TRUE((*engine)->AddRequest(request).ok());
  while ((*engine)->HasUnfinishedRequests()) {
    absl::StatusOr<std::vector<RequestOutput>> outputs = (*engine)->Step();
    EXPECT_TRUE(outputs.ok()) << outputs.status();
    if (!outputs.ok()) return {};
    for (RequestOutput& output : *outputs) {
      if (output.finished) return output.layer_accuracy;
    }
  }
  return {};
}

void ExpectNear(const std::optional<double>& gpu, const std::optional<double>& cpu, const char* what, int64_t layer) {
  ASSERT_EQ(gpu.has_value(), cpu.has_value()) << what << " of layer " << layer;
  if (cpu.has_value()) {
    EXPECT_NEAR(*gpu, *cpu, kCosineTolerance) << what << " of layer " << layer;
  }
}

// Prefill chunk sizes, with lambda 16: chunks of 512 all start on the anchor grid; of the
// chunks of 500, those at 500 and 1000 do not, and in delta mode hand DeltaCombine the
// carry. Every delta or recompute chunk combines in one DeltaCombine pass.
using ModeAndChunk = std::tuple<AttentionMode, int64_t>;

class CudaEngineAccuracy : public ::testing::TestWithParam<ModeAndChunk> {};

TEST_P(CudaEngineAccuracy, PerLayerCosinesEqualTheCpuEngines) {
  const auto [mode, chunk] = GetParam();
  const std::vector<LayerAccuracy> cpu = ReportedAccuracy(ComputeDevice::kCpu, mode, chunk);
  const std::vector<LayerAccuracy> gpu = ReportedAccuracy(ComputeDevice::kCuda, mode, chunk);
  ASSERT_EQ(gpu.size(), cpu.size());
  ASSERT_FALSE(cpu.empty());
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(gpu[i].anchors, cpu[i].anchors);
    EXPECT_EQ(gpu[i].probes, cpu[i].probes);
    ExpectNear(gpu[i].anchor_sparse, cpu[i].anchor_sparse, "anchor_sparse", cpu[i].layer);
    ExpectNear(gpu[i].probe_sparse, cpu[i].probe_sparse, "probe_sparse", cpu[i].layer);
    ExpectNear(gpu[i].probe_delta, cpu[i].probe_delta, "probe_delta", cpu[i].layer);
  }
  if (mode != AttentionMode::kSparse) {
    EXPECT_GT(cpu[0].anchors, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, CudaEngineAccuracy,
                         ::testing::Combine(::testing::Values(AttentionMode::kSparse, AttentionMode::kRecompute,
                                                              AttentionMode::kDelta),
                                            ::testing::Values(int64_t{512}, int64_t{500})),
                         [](const ::testing::TestParamInfo<ModeAndChunk>& param_info) {
                           return std::string(AttentionModeName(std::get<0>(param_info.param))) + "_chunks_" +
                                  std::to_string(std::get<1>(param_info.param));
                         });

}  // namespace
}  // namespace deltaserve::testing
