#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "engine/model/llama_weights.h"

namespace deltaserve {
namespace {

std::vector<at::Tensor> AllTensors(const LlamaWeights& weights) {
  std::vector<at::Tensor> tensors = {weights.embed_tokens, weights.norm, weights.lm_head};
  for (const LlamaLayerWeights& layer : weights.layers) {
    tensors.insert(tensors.end(), {layer.input_layernorm, layer.q_proj, layer.k_proj, layer.v_proj, layer.o_proj,
                                   layer.post_attention_layernorm, layer.gate_proj, layer.up_proj, layer.down_proj});
  }
  return tensors;
}

ModelConfig UntiedDemo() {
  ModelConfig config = DemoModelConfig();
  config.tie_word_embeddings = false;
  config.head_dim = 48;  // H * d != hidden, as in models with an explicit head_dim
  return config;
}

TEST(DummyLlamaWeightsTest, ShapesFollowTheConfig) {
  const ModelConfig config = UntiedDemo();
  const LlamaWeights weights = MakeDummyLlamaWeights(config, 1);
  EXPECT_EQ(weights.embed_tokens.sizes(), at::IntArrayRef({512, 256}));
  EXPECT_EQ(weights.lm_head.sizes(), at::IntArrayRef({512, 256}));
  EXPECT_EQ(weights.norm.sizes(), at::IntArrayRef({256}));
  ASSERT_EQ(weights.layers.size(), 4u);
  const LlamaLayerWeights& layer = weights.layers[3];
  EXPECT_EQ(layer.q_proj.sizes(), at::IntArrayRef({8 * 48, 256}));
  EXPECT_EQ(layer.k_proj.sizes(), at::IntArrayRef({4 * 48, 256}));
  EXPECT_EQ(layer.v_proj.sizes(), at::IntArrayRef({4 * 48, 256}));
  EXPECT_EQ(layer.o_proj.sizes(), at::IntArrayRef({256, 8 * 48}));
  EXPECT_EQ(layer.gate_proj.sizes(), at::IntArrayRef({688, 256}));
  EXPECT_EQ(layer.up_proj.sizes(), at::IntArrayRef({688, 256}));
  EXPECT_EQ(layer.down_proj.sizes(), at::IntArrayRef({256, 688}));
  for (const at::Tensor& tensor : AllTensors(weights)) {
    EXPECT_EQ(tensor.scalar_type(), at::kFloat);
    EXPECT_TRUE(tensor.is_contiguous());
  }
}

TEST(DummyLlamaWeightsTest, SameSeedGivesTheSameWeights) {
  const std::vector<at::Tensor> first = AllTensors(MakeDummyLlamaWeights(UntiedDemo(), 42));
  const std::vector<at::Tensor> second = AllTensors(MakeDummyLlamaWeights(UntiedDemo(), 42));
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(at::equal(first[i], second[i])) << "tensor " << i;
}

TEST(DummyLlamaWeightsTest, OtherSeedGivesOtherWeights) {
  const LlamaWeights first = MakeDummyLlamaWeights(UntiedDemo(), 42);
  const LlamaWeights second = MakeDummyLlamaWeights(UntiedDemo(), 43);
  EXPECT_FALSE(at::equal(first.embed_tokens, second.embed_tokens));
  EXPECT_FALSE(at::equal(first.layers[0].q_proj, second.layers[0].q_proj));
}

TEST(DummyLlamaWeightsTest, MatricesDifferFromEachOther) {
  const LlamaWeights weights = MakeDummyLlamaWeights(UntiedDemo(), 7);
  EXPECT_FALSE(at::equal(weights.layers[0].gate_proj, weights.layers[0].up_proj));
  EXPECT_FALSE(at::equal(weights.layers[0].k_proj, weights.layers[1].k_proj));
  EXPECT_FALSE(at::equal(weights.embed_tokens, weights.lm_head));
}

// Like Hugging Face's init: normal(0, initializer_range = 0.02) matrices, unit norms.
TEST(DummyLlamaWeightsTest, MatricesAreSmallNormalsAndNormsAreOne) {
  const LlamaWeights weights = MakeDummyLlamaWeights(UntiedDemo(), 3);
  // Standard errors: ~5e-5 for the mean and std of 176K values resampled from 65536 draws.
  const at::Tensor gate = weights.layers[2].gate_proj;
  EXPECT_NEAR(gate.mean().item<double>(), 0.0, 5e-4);
  EXPECT_NEAR(gate.std().item<double>(), 0.02, 5e-4);
  EXPECT_TRUE(at::equal(weights.norm, at::ones({256})));
  EXPECT_TRUE(at::equal(weights.layers[1].post_attention_layernorm, at::ones({256})));
}

TEST(DummyLlamaWeightsTest, TiedConfigSharesTheEmbedding) {
  const LlamaWeights weights = MakeDummyLlamaWeights(DemoModelConfig(), 1);
  EXPECT_TRUE(weights.lm_head.is_same(weights.embed_tokens));
}

}  // namespace
}  // namespace deltaserve
