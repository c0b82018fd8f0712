// --torch-profile-dir on the GPU: a traced prompt step's Chrome trace holds the step's
// kernels and the host's CUDA runtime calls, what scripts/gpu/trace_summary.py reads; so
// does a traced decode step that replays a CUDA graph (--torch-profile-decode).
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/runtime/llm_engine.h"
#include "tests/engine/cuda/small_models.h"
#include "tests/support/temp_dir.h"

namespace deltaserve::testing {
namespace {

// Kernels, SiLU·mul kernels (one a layer, inside a decode graph) and CUDA runtime calls
// in a Chrome trace.
struct TraceCounts {
  int kernels = 0;
  int silu_mul_kernels = 0;
  int runtime_calls = 0;
};

TraceCounts CountTrace(const std::string& path) {
  TraceCounts counts;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "no " << path;
  const nlohmann::json trace = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(trace.is_discarded()) << path << " is not JSON";
  if (trace.is_discarded() || !trace.contains("traceEvents")) return counts;
  for (const nlohmann::json& event : trace["traceEvents"]) {
    const bool kernel = event.value("cat", "") == "kernel";
    counts.kernels += kernel;
    counts.silu_mul_kernels += kernel && event.value("name", "").find("SiluMulKernel") != std::string::npos;
    counts.runtime_calls += event.value("cat", "") == "cuda_runtime";
  }
  return counts;
}

// Runs a 100-token prompt (4 prompt steps of 32 tokens) and 4 new tokens (3 decode steps,
// each a CUDA graph replay) with these trace settings.
void GenerateTraced(const TorchProfileConfig& profile) {
  const ModelConfig config = SmallLlama(64);
  EngineConfig engine_config;
  engine_config.device = ComputeDevice::kCuda;
  engine_config.kv_cache_bytes = 64 * KvCache::BytesPerBlock({3, 0, 16, 2, 64}, at::kBFloat16);
  engine_config.max_num_batched_tokens = 32;
  engine_config.torch_profile = profile;
  absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      LLMEngine::Create(config, MakeDummyLlamaWeights(config, 1), nullptr, engine_config);
  ASSERT_TRUE(engine.ok()) << engine.status();
  GenerationRequest request;
  request.request_id = "r";
  for (int32_t i = 0; i < 100; ++i) request.prompt_token_ids.push_back(1 + (i * 37) % 1000);
  request.sampling.temperature = 0.0f;
  request.sampling.max_tokens = 4;
  ASSERT_TRUE((*engine)->AddRequest(request).ok());
  while ((*engine)->HasUnfinishedRequests()) ASSERT_TRUE((*engine)->Step().ok());
}

TEST(CudaStepTrace, RecordsTheStepsKernelsAndRuntimeCalls) {
  test_support::TempDir dir;
  ASSERT_TRUE(dir.ok());
  GenerateTraced({dir.path().string(), 1, 1});
  const TraceCounts counts = CountTrace(dir.File("step-1.json"));
  EXPECT_GT(counts.kernels, 0);
  EXPECT_GT(counts.runtime_calls, 0);
}

TEST(CudaStepTrace, RecordsTheKernelsOfAReplayedDecodeGraph) {
  test_support::TempDir dir;
  ASSERT_TRUE(dir.ok());
  GenerateTraced({dir.path().string(), 1, 1, /*decode=*/true});
  const TraceCounts counts = CountTrace(dir.File("decode-step-1.json"));
  // The replay is one cudaGraphLaunch on the host; its kernels are the graph's nodes.
  EXPECT_EQ(counts.silu_mul_kernels, SmallLlama(64).num_hidden_layers);
  EXPECT_GT(counts.runtime_calls, 0);
}

}  // namespace
}  // namespace deltaserve::testing
