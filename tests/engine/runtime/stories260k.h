#pragma once

// stories260K (../shared/models) as an engine, for tests that need a real model.

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/runtime/llm_engine.h"
#include "engine/runtime/model_source.h"
#include "tests/engine/runtime/engine_driver.h"

namespace deltaserve::testing {

inline std::string Stories260KDir() { return std::string(DELTASERVE_SHARED_MODELS_DIR) + "/stories260K"; }

inline nlohmann::json Stories260KGolden() {
  std::ifstream in(Stories260KDir() + "/golden.json");
  return nlohmann::json::parse(in);
}

inline EngineConfig SmallEngineConfig() {
  EngineConfig config;
  config.kv_cache_bytes = 16 << 20;
  // ctest runs two test processes at once on two cores: one thread each.
  config.num_threads = 1;
  return config;
}

inline std::unique_ptr<LLMEngine> MakeStories260KEngine(const EngineConfig& config = SmallEngineConfig()) {
  absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      LLMEngine::Create(std::move(source->config), std::move(source->weights), source->tokenizer, config);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

inline SamplingParams Greedy(int64_t max_tokens) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.max_tokens = max_tokens;
  return params;
}

// A prompt of BOS and `length` - 1 tokens that `salt` varies.
inline std::vector<int32_t> PromptOfLength(int64_t length, int32_t salt) {
  std::vector<int32_t> prompt{1};
  for (int64_t i = 1; i < length; ++i) prompt.push_back(3 + static_cast<int32_t>((i * 37 + salt * 101) % 500));
  return prompt;
}

inline AttentionConfig DenseAttention() { return AttentionConfig{AttentionMode::kDense, 2048, 1024, 64}; }

}  // namespace deltaserve::testing
