// --torch-profile-dir on the GPU: a traced prompt step's Chrome trace holds the step's
// kernels and the host's CUDA runtime calls, what scripts/gpu/trace_summary.py reads.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/runtime/llm_engine.h"
#include "tests/engine/cuda/small_models.h"
#include "tests/support/temp_dir.h"

namespace deltaserve::testing {
namespace {

TEST(CudaStepTrace, RecordsTheStepsKernelsAndRuntimeCalls) {
  test_support::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const ModelConfig config = SmallLlama(64);
  EngineConfig engine_config;
  engine_config.device = ComputeDevice::kCuda;
  engine_config.kv_cache_bytes = 64 * KvCache::BytesPerBlock({3, 0, 16, 2, 64}, at::kBFloat16);
  engine_config.max_num_batched_tokens = 32;
  engine_config.torch_profile = {dir.path().string(), 1, 1};
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

  std::ifstream in(dir.File("step-1.json"));
  ASSERT_TRUE(in.good()) << "no step-1.json";
  const nlohmann::json trace = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(trace.is_discarded()) << "step-1.json is not JSON";
  int kernels = 0, runtime_calls = 0;
  for (const nlohmann::json& event : trace["traceEvents"]) {
    kernels += event.value("cat", "") == "kernel";
    runtime_calls += event.value("cat", "") == "cuda_runtime";
  }
  EXPECT_GT(kernels, 0);
  EXPECT_GT(runtime_calls, 0);
}

}  // namespace
}  // namespace deltaserve::testing
