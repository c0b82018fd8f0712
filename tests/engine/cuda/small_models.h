#pragma once

// Small Llama shapes that the CUDA kernels serve (head_dim 64 or 128), with seeded dummy
// weights, and a single-sequence driver of a DeviceModel for comparing devices.

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/model/model_config.h"
#include "engine/runtime/device_model.h"

namespace deltaserve::testing {

inline ModelConfig SmallLlama(int64_t head_dim) {
  const std::string json = absl::StrCat(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": )", 4 * head_dim, R"(, "intermediate_size": 768, "num_hidden_layers": 3,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1024,
    "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
    "tie_word_embeddings": false, "torch_dtype": "float32"})");
  absl::StatusOr<ModelConfig> config = ParseModelConfig(json, "small llama");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// Dummy weights draw normal(0, 0.02), which leaves attention almost uniform; larger
// values give the sharp attention patterns under which sparse and dense differ.
inline LlamaWeights SharpWeights(const ModelConfig& config, uint64_t seed) {
  LlamaWeights weights = MakeDummyLlamaWeights(config, seed);
  for (LlamaLayerWeights& layer : weights.layers) {
    layer.q_proj.mul_(4);
    layer.k_proj.mul_(4);
  }
  return weights;
}

inline DeviceModel BuildOn(ComputeDevice device, const ModelConfig& config, uint64_t seed, int64_t max_tokens) {
  EngineConfig engine;
  engine.device = device;
  engine.block_size = 16;
  engine.kv_cache_bytes = KvCache::BytesPerBlock({config.num_hidden_layers, 0, 16, config.num_key_value_heads,
                                                  config.head_dim},
                                                 DeviceDtype(device)) *
                          ((max_tokens + 15) / 16);
  engine.enforce_eager = true;  // these tests drive Forward themselves
  absl::StatusOr<DeviceModel> model = device == ComputeDevice::kCuda
                                          ? BuildCudaModel(config, SharpWeights(config, seed), engine)
                                          : BuildCpuModel(config, SharpWeights(config, seed), engine);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

// One sequence at a time over the whole cache, its blocks in reverse order so that the
// block table matters.
class SingleSequence {
 public:
  explicit SingleSequence(DeviceModel& model) : model_(model) {
    block_table_.resize(static_cast<size_t>(model.cache->shape().num_blocks));
    std::iota(block_table_.rbegin(), block_table_.rend(), 0);
  }

  // Logits [vocab] float32 after the prompt, prefilled in chunks of `chunk` tokens.
  at::Tensor Prefill(const std::vector<int64_t>& prompt, int64_t chunk, const AttentionConfig& attention) {
    const int64_t prompt_len = static_cast<int64_t>(prompt.size());
    at::Tensor logits;
    for (int64_t start = 0; start < prompt_len; start += chunk) {
      const int64_t end = std::min(prompt_len, start + chunk);
      logits = Step(std::vector<int64_t>(prompt.begin() + start, prompt.begin() + end), start, prompt_len, attention);
    }
    return logits;
  }

  // Logits after `token` at `position`, a decode step after a prompt of prompt_len.
  at::Tensor Decode(int64_t token, int64_t position, int64_t prompt_len, const AttentionConfig& attention) {
    return Step({token}, position, prompt_len, attention);
  }

  PrefillMeasurements& measurements() { return measurements_; }

 private:
  at::Tensor Step(const std::vector<int64_t>& tokens, int64_t start, int64_t prompt_len,
                  const AttentionConfig& attention) {
    const int64_t count = static_cast<int64_t>(tokens.size());
    const int64_t block_size = model_.cache->shape().block_size;
    ForwardBatch batch;
    batch.token_ids = at::tensor(tokens, at::kLong);
    batch.attention.positions = at::arange(start, start + count, at::kLong);
    std::vector<int64_t> slots;
    for (int64_t p = start; p < start + count; ++p) slots.push_back(block_table_[p / block_size] * block_size + p % block_size);
    batch.attention.slots = at::tensor(slots, at::kLong);
    AttentionSequence seq{0, count, start, prompt_len, block_table_, attention, &carry_};
    if (start < prompt_len) seq.measurements = &measurements_;
    batch.attention.sequences.push_back(seq);
    batch.logit_rows = at::tensor(std::vector<int64_t>{count - 1}, at::kLong);
    at::Tensor logits = model_.model->Forward(batch, *model_.attention)[0].to(at::kCPU, at::kFloat);
    model_.attention->EndForward();
    return logits;
  }

  DeviceModel& model_;
  std::vector<int32_t> block_table_;
  std::vector<DeltaCarry> carry_;
  PrefillMeasurements measurements_;
};

inline std::vector<int64_t> RandomTokens(int64_t count, int64_t vocab, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor ids = at::randint(3, vocab, {count}, generator, at::kLong);
  return std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + count);
}

inline double Cosine(const at::Tensor& a, const at::Tensor& b) {
  return at::cosine_similarity(a.to(at::kDouble).flatten(), b.to(at::kDouble).flatten(), 0).item<double>();
}

inline AttentionConfig Mode(AttentionMode mode) {
  AttentionConfig config;
  config.mode = mode;
  config.sink = 64;
  config.window = 128;
  config.lambda = 16;
  return config;
}

}  // namespace deltaserve::testing
