#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/model/llama_weights.h"
#include "tests/engine/model/stories260k_fixture.h"
#include "tests/support/temp_dir.h"

namespace deltaserve {
namespace {

using test_support::TempDir;

std::vector<uint16_t> AsUint16(const std::string& bytes) {
  std::vector<uint16_t> values(bytes.size() / sizeof(uint16_t));
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

std::vector<float> AsFloats(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

// bf16 is the high half of a float32: the upcast must be exact.
float DecodeBf16(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

// IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits; exponent 0 is subnormal.
float DecodeF16(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return static_cast<float>((bits & 0x8000) ? -magnitude : magnitude);
}

// Stories260K's values cut to their bf16 high halves (which covers real weights).
std::map<std::string, TestTensor> StoriesAsBf16() {
  std::map<std::string, TestTensor> tensors = StoriesTensors();
  for (auto& [name, tensor] : tensors) {
    std::vector<uint16_t> high_halves;
    for (float value : AsFloats(tensor.bytes)) {
      uint32_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      high_halves.push_back(static_cast<uint16_t>(bits >> 16));
    }
    tensor = {name, "BF16", tensor.shape, Uint16Bytes(high_halves)};
  }
  return tensors;
}

// Walks the finite half bit patterns (normals, subnormals, zeros of both signs).
std::map<std::string, TestTensor> StoriesShapesAsF16Patterns() {
  constexpr uint32_t kFinitePatterns = 0x7C00;
  std::map<std::string, TestTensor> tensors = StoriesTensors();
  for (auto& [name, tensor] : tensors) {
    std::vector<uint16_t> patterns(tensor.bytes.size() / sizeof(float));
    for (uint32_t i = 0; i < patterns.size(); ++i) {
      const uint32_t sign = (i / kFinitePatterns) % 2 == 0 ? 0 : 0x8000;
      patterns[i] = static_cast<uint16_t>(sign | (i % kFinitePatterns));
    }
    tensor = {name, "F16", tensor.shape, Uint16Bytes(patterns)};
  }
  return tensors;
}

void ExpectDecoded(const at::Tensor& loaded, const TestTensor& stored, float (*decode)(uint16_t)) {
  ASSERT_EQ(loaded.scalar_type(), at::kFloat);
  ASSERT_TRUE(loaded.is_contiguous());
  const std::vector<uint16_t> bits = AsUint16(stored.bytes);
  ASSERT_EQ(loaded.numel(), static_cast<int64_t>(bits.size()));
  const float* values = loaded.data_ptr<float>();
  for (size_t i = 0; i < bits.size(); ++i) {
    ASSERT_EQ(values[i], decode(bits[i])) << stored.name << " element " << i << " bits 0x" << std::hex << bits[i];
  }
}

absl::StatusOr<LlamaWeights> LoadWithDtype(const TempDir& dir, WeightDtype dtype) {
  ModelConfig config = StoriesConfig();
  config.torch_dtype = dtype;
  return LoadLlamaWeights(dir.path(), config);
}

TEST(LlamaWeightsUpcastTest, Bf16UpcastsExactly) {
  TempDir dir;
  const std::map<std::string, TestTensor> stored = StoriesAsBf16();
  WriteSafetensors(dir.path() / "model.safetensors", Values(stored));
  absl::StatusOr<LlamaWeights> weights = LoadWithDtype(dir, WeightDtype::kBFloat16);
  ASSERT_TRUE(weights.ok()) << weights.status();
  ExpectDecoded(weights->embed_tokens, stored.at("model.embed_tokens.weight"), DecodeBf16);
  ExpectDecoded(weights->layers[1].v_proj, stored.at("model.layers.1.self_attn.v_proj.weight"), DecodeBf16);
  ExpectDecoded(weights->norm, stored.at("model.norm.weight"), DecodeBf16);
  EXPECT_TRUE(weights->lm_head.is_same(weights->embed_tokens));
}

TEST(LlamaWeightsUpcastTest, F16UpcastsEveryFinitePatternExactly) {
  TempDir dir;
  const std::map<std::string, TestTensor> stored = StoriesShapesAsF16Patterns();
  WriteSafetensors(dir.path() / "model.safetensors", Values(stored));
  absl::StatusOr<LlamaWeights> weights = LoadWithDtype(dir, WeightDtype::kFloat16);
  ASSERT_TRUE(weights.ok()) << weights.status();
  // The embedding alone ([512, 64]) holds every finite pattern.
  ExpectDecoded(weights->embed_tokens, stored.at("model.embed_tokens.weight"), DecodeF16);
  ExpectDecoded(weights->layers[0].gate_proj, stored.at("model.layers.0.mlp.gate_proj.weight"), DecodeF16);
}

// Writers other than Hugging Face's need not pad the header, so data may start at any byte.
TEST(LlamaWeightsUpcastTest, MisalignedDataLoadsTheSameValues) {
  for (WeightDtype dtype : {WeightDtype::kFloat32, WeightDtype::kBFloat16}) {
    TempDir dir;
    const std::vector<TestTensor> stored = Values(dtype == WeightDtype::kFloat32 ? StoriesTensors() : StoriesAsBf16());
    WriteSafetensors(dir.path() / "model.safetensors", stored, /*misalign_data=*/true);
    absl::StatusOr<LlamaWeights> misaligned = LoadWithDtype(dir, dtype);
    ASSERT_TRUE(misaligned.ok()) << misaligned.status();
    TempDir aligned_dir;
    WriteSafetensors(aligned_dir.path() / "model.safetensors", stored);
    absl::StatusOr<LlamaWeights> aligned = LoadWithDtype(aligned_dir, dtype);
    ASSERT_TRUE(aligned.ok()) << aligned.status();
    EXPECT_TRUE(at::equal(misaligned->embed_tokens, aligned->embed_tokens));
    EXPECT_TRUE(at::equal(misaligned->layers[4].o_proj, aligned->layers[4].o_proj));
  }
}

}  // namespace
}  // namespace deltaserve
