// SampleToken's cost for one sequence at Llama 3's vocabulary (128256), per setting.
// Run: build-<you>/tests/engine/sampling/sampler_benchmark

#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/sampling/sampler.h"

namespace deltaserve {
namespace {

constexpr int64_t kLlama3Vocab = 128256;

struct Setting {
  std::string name;
  SamplingParams params;
};

std::vector<Setting> Settings() {
  std::vector<Setting> settings(6);
  settings[0].name = "greedy";
  settings[0].params.temperature = 0.0f;
  settings[1].name = "temperature 1";
  settings[2].name = "top_k 50";
  settings[2].params.top_k = 50;
  settings[3].name = "top_p 0.9";
  settings[3].params.top_p = 0.9f;
  settings[4].name = "min_p 0.05";
  settings[4].params.min_p = 0.05f;
  settings[5].name = "top_k+top_p+penalties+logprobs 5";
  settings[5].params.top_k = 50;
  settings[5].params.top_p = 0.9f;
  settings[5].params.repetition_penalty = 1.1f;
  settings[5].params.frequency_penalty = 0.5f;
  settings[5].params.logprobs = 5;
  return settings;
}

void BM_SampleToken(benchmark::State& state) {
  const Setting setting = Settings()[static_cast<size_t>(state.range(0))];
  at::manual_seed(0);
  // Scale 3 spreads the distribution so that top-p keeps thousands of tokens: a hard case.
  const at::Tensor logits = at::randn({kLlama3Vocab}) * 3.0;
  const std::vector<int32_t> history(2048, 17);
  SamplerRng rng(1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(SampleToken(logits, history, 512, setting.params, rng));
  }
  state.SetLabel(setting.name);
}
BENCHMARK(BM_SampleToken)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace deltaserve
