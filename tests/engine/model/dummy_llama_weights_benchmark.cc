// Not a test: prints how long MakeDummyLlamaWeights takes at the demo shape and at
// Llama-3.2-1B's shape (1.24 B parameters, ~5 GB of float32), the size
// `--load-format dummy` must build in seconds.

#include <benchmark/benchmark.h>

#include "engine/model/llama_weights.h"

namespace deltaserve {
namespace {

ModelConfig Llama32_1B() {
  ModelConfig config;
  config.hidden_size = 2048;
  config.intermediate_size = 8192;
  config.num_hidden_layers = 16;
  config.num_attention_heads = 32;
  config.num_key_value_heads = 8;
  config.head_dim = 64;
  config.vocab_size = 128256;
  config.tie_word_embeddings = true;
  return config;
}

void BM_DummyWeights(benchmark::State& state, const ModelConfig& config) {
  for (auto _ : state) benchmark::DoNotOptimize(MakeDummyLlamaWeights(config, 0));
}

BENCHMARK_CAPTURE(BM_DummyWeights, demo, DemoModelConfig())->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_DummyWeights, llama_3_2_1b, Llama32_1B())
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace deltaserve
