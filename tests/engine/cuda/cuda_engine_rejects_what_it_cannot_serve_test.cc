// Bad input on the GPU path gets the CPU path's answers: a prompt the KV cache cannot
// hold is INVALID_ARGUMENT at AddRequest; what the card or the kernels cannot take is a
// clear error at start-up with the sizes involved, never a crash.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/runtime/llm_engine.h"
#include "tests/engine/cuda/small_models.h"

namespace deltaserve::testing {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::unique_ptr<LLMEngine>> CreateOnGpu(const ModelConfig& config, LlamaWeights weights,
                                                       EngineConfig engine_config) {
  engine_config.device = ComputeDevice::kCuda;
  return LLMEngine::Create(config, std::move(weights), nullptr, engine_config);
}

TEST(CudaEngineRejects, PromptLongerThanTheCacheAtAddRequest) {
  const ModelConfig config = SmallLlama(64);
  EngineConfig engine_config;
  engine_config.kv_cache_bytes = 4 * KvCache::BytesPerBlock({3, 0, 16, 2, 64}, at::kBFloat16);
  absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      CreateOnGpu(config, MakeDummyLlamaWeights(config, 1), engine_config);
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ((*engine)->num_kv_cache_blocks(), 4);
  GenerationRequest request;
  request.request_id = "too-long";
  request.prompt_token_ids.assign(100, 5);
  request.sampling.max_tokens = 1;
  const absl::Status status = (*engine)->AddRequest(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("the cache has 4"));
}

TEST(CudaEngineRejects, HeadDimTheKernelsDoNotServe) {
  ModelConfig config = SmallLlama(64);
  config.num_attention_heads = 32;  // head_dim 8, as in stories260K
  config.num_key_value_heads = 16;
  config.head_dim = 8;
  const absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      CreateOnGpu(config, MakeDummyLlamaWeights(config, 1), EngineConfig{});
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr("head_dim 8"));
}

// Weights of a far larger model than any card holds, made of broadcast views that take
// no host memory: refused before anything is copied, naming both sizes.
TEST(CudaEngineRejects, WeightsLargerThanTheCard) {
  ModelConfig config = SmallLlama(128);
  config.hidden_size = 65536;
  config.intermediate_size = 262144;
  config.num_attention_heads = 512;
  config.num_key_value_heads = 8;
  config.num_hidden_layers = 4;
  auto huge = [](std::vector<int64_t> shape) { return at::zeros({1}, at::kFloat).expand(shape); };
  LlamaWeights weights;
  weights.embed_tokens = huge({config.vocab_size, config.hidden_size});
  weights.lm_head = huge({config.vocab_size, config.hidden_size});
  weights.norm = huge({config.hidden_size});
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    LlamaLayerWeights layer;
    layer.input_layernorm = layer.post_attention_layernorm = huge({config.hidden_size});
    layer.q_proj = layer.o_proj = huge({config.hidden_size, config.hidden_size});
    layer.k_proj = layer.v_proj = huge({8 * 128, config.hidden_size});
    layer.gate_proj = layer.up_proj = huge({config.intermediate_size, config.hidden_size});
    layer.down_proj = huge({config.hidden_size, config.intermediate_size});
    weights.layers.push_back(layer);
  }
  const absl::StatusOr<std::unique_ptr<LLMEngine>> engine = CreateOnGpu(config, std::move(weights), EngineConfig{});
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr("GiB in bf16, the GPU has"));
}

TEST(CudaEngineRejects, UtilizationThatLeavesNoRoomForTheCache) {
  const ModelConfig config = SmallLlama(64);
  EngineConfig engine_config;
  engine_config.gpu_memory_utilization = 0.001;
  const absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      CreateOnGpu(config, MakeDummyLlamaWeights(config, 1), engine_config);
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr("--gpu-memory-utilization 0.001"));
}

TEST(CudaEngine, SizesTheCacheFromTheCard) {
  const ModelConfig config = SmallLlama(64);
  EngineConfig engine_config;
  engine_config.gpu_memory_utilization = 0.05;
  const absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      CreateOnGpu(config, MakeDummyLlamaWeights(config, 1), engine_config);
  ASSERT_TRUE(engine.ok()) << engine.status();
  // A 3-layer model with 2 KV heads of 64: a block of 16 tokens is 24 KiB, so 5 % of any
  // data-centre card holds many thousand blocks.
  EXPECT_GT((*engine)->num_kv_cache_blocks(), 10000);
  EXPECT_GT((*engine)->config().kv_cache_bytes, int64_t{200} << 20);
}

}  // namespace
}  // namespace deltaserve::testing
