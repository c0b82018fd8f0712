// Layers listed in dense_layers prefill densely whatever the request's mode.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

std::vector<int32_t> LongPrompt() {
  std::vector<int32_t> prompt{1};
  for (int i = 1; i < 300; ++i) prompt.push_back(3 + (i * 37) % 500);
  return prompt;
}

Completion Generate(const EngineConfig& config, AttentionMode mode) {
  auto engine = MakeStories260KEngine(config);
  // A small geometry so that the 300-token prompt is mostly sparse (stories260K: 512).
  const AttentionConfig attention{mode, 32, 4, 8, 0.0};
  EXPECT_TRUE(engine->AddRequest({"r", LongPrompt(), Greedy(16), attention, 0}).ok());
  return RunToCompletion(*engine)["r"];
}

TEST(DenseLayers, EveryLayerDenseMakesDeltaDense) {
  EngineConfig all_dense = SmallEngineConfig();
  all_dense.dense_layers = {0, 1, 2, 3, 4};
  EXPECT_EQ(Generate(all_dense, AttentionMode::kDelta).ids, Generate(SmallEngineConfig(), AttentionMode::kDense).ids);
}

TEST(DenseLayers, SomeDenseLayersChangeTheSparseResult) {
  EngineConfig first_dense = SmallEngineConfig();
  first_dense.dense_layers = {0, 1, 2};
  auto with = MakeStories260KEngine(first_dense);
  auto without = MakeStories260KEngine();
  const AttentionConfig sparse{AttentionMode::kSparse, 8, 1, 8, 0.0};
  ASSERT_TRUE(with->AddRequest({"r", LongPrompt(), Greedy(32), sparse, 0}).ok());
  ASSERT_TRUE(without->AddRequest({"r", LongPrompt(), Greedy(32), sparse, 0}).ok());
  EXPECT_NE(RunToCompletion(*with)["r"].ids, RunToCompletion(*without)["r"].ids);
}

TEST(DenseLayers, LayerOutsideTheModelIsRefused) {
  absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
  ASSERT_TRUE(source.ok());
  EngineConfig config = SmallEngineConfig();
  config.dense_layers = {5};
  absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      LLMEngine::Create(std::move(source->config), std::move(source->weights), source->tokenizer, config);
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(engine.status().message()), ::testing::HasSubstr("dense_layers: 5 is not a layer"));
}

}  // namespace
}  // namespace deltaserve::testing
