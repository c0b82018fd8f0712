#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "engine/model/llama_weights.h"
#include "tests/engine/model/stories260k_fixture.h"
#include "tests/support/temp_dir.h"

namespace deltaserve {
namespace {

using test_support::TempDir;

using ::testing::HasSubstr;

// Writes stories260K, changed by the test, into a temp dir and loads it.
class LlamaWeightsCheckpointTest : public ::testing::Test {
 protected:
  absl::StatusOr<LlamaWeights> Load() {
    WriteSafetensors(dir_.path() / "model.safetensors", Values(tensors_));
    return LoadLlamaWeights(dir_.path(), config_);
  }

  std::string File() const { return (dir_.path() / "model.safetensors").string(); }

  TempDir dir_;
  ModelConfig config_ = StoriesConfig();
  std::map<std::string, TestTensor> tensors_ = StoriesTensors();
};

std::string Message(const absl::StatusOr<LlamaWeights>& weights) { return std::string(weights.status().message()); }

TEST_F(LlamaWeightsCheckpointTest, MissingTensorIsNamed) {
  tensors_.erase("model.layers.3.mlp.up_proj.weight");
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights), HasSubstr(File() + ": missing tensor 'model.layers.3.mlp.up_proj.weight'"));
}

TEST_F(LlamaWeightsCheckpointTest, WrongShapeIsNamed) {
  tensors_["model.layers.2.self_attn.k_proj.weight"] = tensors_["model.layers.2.self_attn.q_proj.weight"];
  tensors_["model.layers.2.self_attn.k_proj.weight"].name = "model.layers.2.self_attn.k_proj.weight";
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights), HasSubstr(File() + ": tensor 'model.layers.2.self_attn.k_proj.weight': shape [64, 64], "
                                                   "expected [32, 64]"));
}

TEST_F(LlamaWeightsCheckpointTest, DtypeOtherThanTheConfigsIsNamed) {
  TestTensor& norm = tensors_["model.norm.weight"];
  norm = {norm.name, "F16", norm.shape, std::string(norm.bytes.size() / 2, '\0')};
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights),
              HasSubstr(File() + ": tensor 'model.norm.weight': dtype F16 but config.json torch_dtype is F32"));
}

TEST_F(LlamaWeightsCheckpointTest, UnexpectedTensorIsNamed) {
  tensors_["model.layers.5.input_layernorm.weight"] = {
      "model.layers.5.input_layernorm.weight", "F32", {64}, std::string(64 * sizeof(float), '\0')};
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights),
              HasSubstr(File() + ": tensor 'model.layers.5.input_layernorm.weight': unexpected tensor"));
}

TEST_F(LlamaWeightsCheckpointTest, ConfigWithMoreLayersNamesTheFirstMissingOne) {
  config_.num_hidden_layers = 6;
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights), HasSubstr("missing tensor 'model.layers.5.input_layernorm.weight'"));
}

TEST_F(LlamaWeightsCheckpointTest, StoredRotaryFrequenciesAreIgnored) {
  const std::string name = "model.layers.0.self_attn.rotary_emb.inv_freq";
  tensors_[name] = {name, "F32", {4}, FloatBytes({1, 0.1f, 0.01f, 0.001f})};
  absl::StatusOr<LlamaWeights> weights = Load();
  EXPECT_TRUE(weights.ok()) << weights.status();
}

TEST_F(LlamaWeightsCheckpointTest, UntiedModelNeedsLmHead) {
  config_.tie_word_embeddings = false;
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights), HasSubstr(File() + ": missing tensor 'lm_head.weight'"));
}

TEST_F(LlamaWeightsCheckpointTest, UntiedModelLoadsItsOwnLmHead) {
  config_.tie_word_embeddings = false;
  tensors_["lm_head.weight"] = {"lm_head.weight", "F32", {512, 64}, FloatBytes(std::vector<float>(512 * 64, 0.25f))};
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_FALSE(weights->lm_head.is_same(weights->embed_tokens));
  EXPECT_TRUE(at::equal(weights->lm_head, at::full({512, 64}, 0.25f)));
}

TEST_F(LlamaWeightsCheckpointTest, TiedModelUsesEmbedEvenWhenLmHeadIsStored) {
  tensors_["lm_head.weight"] = {"lm_head.weight", "F32", {512, 64}, FloatBytes(std::vector<float>(512 * 64, 0.25f))};
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_TRUE(weights->lm_head.is_same(weights->embed_tokens));
}

TEST_F(LlamaWeightsCheckpointTest, StoredLmHeadOfATiedModelIsStillChecked) {
  tensors_["lm_head.weight"] = {"lm_head.weight", "F32", {64}, std::string(64 * sizeof(float), '\0')};
  absl::StatusOr<LlamaWeights> weights = Load();
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights), HasSubstr("tensor 'lm_head.weight': shape [64], expected [512, 64]"));
}

TEST_F(LlamaWeightsCheckpointTest, ShardedCheckpointLoadsTheSameWeights) {
  WriteShardedCheckpoint(dir_.path(), Values(tensors_), 3);
  absl::StatusOr<LlamaWeights> sharded = LoadLlamaWeights(dir_.path(), config_);
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  absl::StatusOr<LlamaWeights> single = LoadLlamaWeights(StoriesDir(), config_);
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_TRUE(at::equal(sharded->embed_tokens, single->embed_tokens));
  EXPECT_TRUE(at::equal(sharded->norm, single->norm));
  for (size_t i = 0; i < single->layers.size(); ++i) {
    EXPECT_TRUE(at::equal(sharded->layers[i].q_proj, single->layers[i].q_proj)) << "layer " << i;
    EXPECT_TRUE(at::equal(sharded->layers[i].down_proj, single->layers[i].down_proj)) << "layer " << i;
  }
}

TEST_F(LlamaWeightsCheckpointTest, MissingDirectoryIsNamed) {
  absl::StatusOr<LlamaWeights> weights = LoadLlamaWeights(dir_.path() / "absent", config_);
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights), HasSubstr((dir_.path() / "absent").string()));
}

TEST_F(LlamaWeightsCheckpointTest, TruncatedCheckpointIsNamed) {
  WriteSafetensors(dir_.path() / "model.safetensors", Values(tensors_));
  const std::filesystem::path file = dir_.path() / "model.safetensors";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 100);
  absl::StatusOr<LlamaWeights> weights = LoadLlamaWeights(dir_.path(), config_);
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(Message(weights), HasSubstr(File() + ": tensor '"));
  EXPECT_THAT(Message(weights), HasSubstr("outside the"));
}

}  // namespace
}  // namespace deltaserve
