// On the GPU, decode passes launched ahead replay the CUDA graphs with token ids that the
// previous pass left on the device: every request gets the tokens it gets when the steps
// run in turn, also those that stop early while a pass for them is already queued.
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "engine/runtime/llm_engine.h"
#include "tests/engine/cuda/small_models.h"
#include "tests/engine/runtime/engine_driver.h"

namespace deltaserve::testing {
namespace {

struct GpuRun {
  std::map<std::string, Completion> completions;
  int64_t passes_launched_ahead = 0;
};

// Six requests of different prompt lengths; `stop_ids` stops some of them on a token.
GpuRun Generate(bool async_scheduling, const std::map<std::string, int32_t>& stop_ids) {
  const ModelConfig config = SmallLlama(128);
  EngineConfig engine_config;
  engine_config.device = ComputeDevice::kCuda;
  engine_config.max_num_seqs = 8;
  engine_config.kv_cache_bytes = 256 * KvCache::BytesPerBlock({3, 0, 16, 2, 128}, at::kBFloat16);
  engine_config.async_scheduling = async_scheduling;
  absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      LLMEngine::Create(config, SharpWeights(config, 5), nullptr, engine_config);
  EXPECT_TRUE(engine.ok()) << engine.status();
  if (!engine.ok()) return {};
  for (int i = 0; i < 6; ++i) {
    GenerationRequest request;
    request.request_id = "r" + std::to_string(i);
    for (int32_t t = 0; t < 20 + 9 * i; ++t) request.prompt_token_ids.push_back(1 + (t * 37 + i * 101) % 1000);
    request.sampling.temperature = 0.0f;
    request.sampling.max_tokens = 24 + 2 * i;
    request.sampling.ignore_eos = true;
    if (auto stop = stop_ids.find(request.request_id); stop != stop_ids.end()) {
      request.sampling.stop_token_ids = {stop->second};
    }
    EXPECT_TRUE((*engine)->AddRequest(request).ok());
  }
  GpuRun run;
  run.completions = RunToCompletion(**engine);
  run.passes_launched_ahead = (*engine)->stats().passes_launched_ahead;
  return run;
}

TEST(CudaAsyncScheduling, PassesLaunchedAheadGiveTheTokensOfStepsInTurn) {
  const GpuRun free_running = Generate(false, {});
  ASSERT_EQ(free_running.completions.size(), 6u);
  // r1 and r4 stop at their sixth token (or earlier, where it came before).
  const std::map<std::string, int32_t> stop_ids{{"r1", free_running.completions.at("r1").ids.at(5)},
                                                {"r4", free_running.completions.at("r4").ids.at(5)}};
  const GpuRun in_turn = Generate(false, stop_ids);
  const GpuRun ahead = Generate(true, stop_ids);
  EXPECT_EQ(in_turn.passes_launched_ahead, 0);
  EXPECT_GT(ahead.passes_launched_ahead, 10);
  for (const auto& [id, expected] : in_turn.completions) {
    EXPECT_EQ(ahead.completions.at(id).ids, expected.ids) << id;
    EXPECT_EQ(ahead.completions.at(id).finish_reason, expected.finish_reason) << id;
  }
  EXPECT_EQ(in_turn.completions.at("r1").finish_reason, FinishReason::kStop);
}

}  // namespace
}  // namespace deltaserve::testing
