#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "engine/model/llama_weights.h"
#include "tests/engine/model/stories260k_fixture.h"

namespace deltaserve {
namespace {

void ExpectFloatCpuContiguous(const at::Tensor& tensor, at::IntArrayRef shape) {
  EXPECT_EQ(tensor.sizes(), shape);
  EXPECT_EQ(tensor.scalar_type(), at::kFloat);
  EXPECT_TRUE(tensor.is_contiguous());
  EXPECT_TRUE(tensor.device().is_cpu());
}

std::string TensorBytes(const at::Tensor& tensor) {
  return std::string(static_cast<const char*>(tensor.data_ptr()), tensor.numel() * sizeof(float));
}

class LlamaWeightsStories260KTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LlamaWeights> loaded = LoadLlamaWeights(StoriesDir(), StoriesConfig());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    weights_ = *std::move(loaded);
  }

  LlamaWeights weights_;
};

TEST_F(LlamaWeightsStories260KTest, EveryTensorHasTheConfigShape) {
  ExpectFloatCpuContiguous(weights_.embed_tokens, {512, 64});
  ExpectFloatCpuContiguous(weights_.norm, {64});
  ASSERT_EQ(weights_.layers.size(), 5u);
  for (const LlamaLayerWeights& layer : weights_.layers) {
    ExpectFloatCpuContiguous(layer.input_layernorm, {64});
    ExpectFloatCpuContiguous(layer.q_proj, {64, 64});
    ExpectFloatCpuContiguous(layer.k_proj, {32, 64});
    ExpectFloatCpuContiguous(layer.v_proj, {32, 64});
    ExpectFloatCpuContiguous(layer.o_proj, {64, 64});
    ExpectFloatCpuContiguous(layer.post_attention_layernorm, {64});
    ExpectFloatCpuContiguous(layer.gate_proj, {172, 64});
    ExpectFloatCpuContiguous(layer.up_proj, {172, 64});
    ExpectFloatCpuContiguous(layer.down_proj, {64, 172});
  }
}

TEST_F(LlamaWeightsStories260KTest, TiedLmHeadIsTheEmbedding) {
  EXPECT_TRUE(weights_.lm_head.is_same(weights_.embed_tokens));
}

TEST_F(LlamaWeightsStories260KTest, ValuesAreTheFileBytes) {
  const std::map<std::string, TestTensor> file = StoriesTensors();
  EXPECT_EQ(TensorBytes(weights_.embed_tokens), file.at("model.embed_tokens.weight").bytes);
  EXPECT_EQ(TensorBytes(weights_.layers[3].k_proj), file.at("model.layers.3.self_attn.k_proj.weight").bytes);
  EXPECT_EQ(TensorBytes(weights_.layers[4].down_proj), file.at("model.layers.4.mlp.down_proj.weight").bytes);
  EXPECT_EQ(TensorBytes(weights_.norm), file.at("model.norm.weight").bytes);
}

// float32 weights alias the mapping; each tensor keeps it alive on its own.
TEST_F(LlamaWeightsStories260KTest, TensorsOutliveTheirLlamaWeights) {
  const std::string expected = TensorBytes(weights_.layers[2].up_proj);
  at::Tensor up_proj = weights_.layers[2].up_proj;
  weights_ = LlamaWeights();
  EXPECT_EQ(TensorBytes(up_proj), expected);
}

}  // namespace
}  // namespace deltaserve
