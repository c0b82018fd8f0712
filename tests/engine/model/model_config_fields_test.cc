#include <gtest/gtest.h>

#include "engine/model/model_config.h"
#include "tests/engine/model/llama_config_json.h"

namespace deltaserve {
namespace {

using nlohmann::json;

TEST(ModelConfigFieldsTest, ReadsEveryFieldOfALlamaConfig) {
  absl::StatusOr<ModelConfig> config = ParseConfigJson(LlamaConfigJson());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, "LlamaForCausalLM");
  EXPECT_EQ(config->hidden_size, 64);
  EXPECT_EQ(config->intermediate_size, 172);
  EXPECT_EQ(config->num_hidden_layers, 5);
  EXPECT_EQ(config->num_attention_heads, 8);
  EXPECT_EQ(config->num_key_value_heads, 4);
  EXPECT_EQ(config->head_dim, 8);
  EXPECT_DOUBLE_EQ(config->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config->rope_theta, 10000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeType::kDefault);
  EXPECT_EQ(config->max_position_embeddings, 512);
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_EQ(config->vocab_size, 512);
  EXPECT_EQ(config->bos_token_id, 1);
  EXPECT_EQ(config->eos_token_ids, std::vector<int32_t>({2}));
  EXPECT_EQ(config->torch_dtype, WeightDtype::kFloat32);
}

TEST(ModelConfigFieldsTest, KeyValueHeadsDefaultToAttentionHeads) {
  json text = LlamaConfigJson();
  text.erase("num_key_value_heads");
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_key_value_heads, 8);
}

TEST(ModelConfigFieldsTest, ExplicitHeadDimNeedNotDivideHidden) {
  json text = LlamaConfigJson();
  text["hidden_size"] = 100;
  text["head_dim"] = 16;
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 16);
}

TEST(ModelConfigFieldsTest, NullHeadDimFallsBackToHiddenOverHeads) {
  json text = LlamaConfigJson();
  text["head_dim"] = nullptr;
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 8);
}

TEST(ModelConfigFieldsTest, EosMayBeAList) {
  json text = LlamaConfigJson();
  text["eos_token_id"] = {2, 7, 9};
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->eos_token_ids, std::vector<int32_t>({2, 7, 9}));
}

TEST(ModelConfigFieldsTest, AbsentTokenIdsStayEmpty) {
  json text = LlamaConfigJson();
  text.erase("bos_token_id");
  text["eos_token_id"] = nullptr;
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->bos_token_id.has_value());
  EXPECT_TRUE(config->eos_token_ids.empty());
}

// Llama 3.1 / 3.2 as written by transformers 4.4x.
TEST(ModelConfigFieldsTest, ReadsLlama3RopeScaling) {
  json text = LlamaConfigJson();
  text["rope_theta"] = 500000.0;
  text["rope_scaling"] = {{"rope_type", "llama3"},
                          {"factor", 32.0},
                          {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192}};
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->rope_theta, 500000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 8192);
}

TEST(ModelConfigFieldsTest, ReadsLegacyTypeKeyForLinearScaling) {
  json text = LlamaConfigJson();
  text["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 2.0);
}

// transformers >= 5 moves rope_theta and the scaling into rope_parameters.
TEST(ModelConfigFieldsTest, ReadsRopeParametersWithTheirRopeTheta) {
  json text = LlamaConfigJson();
  text.erase("rope_theta");
  text.erase("rope_scaling");
  text["rope_parameters"] = {{"rope_type", "llama3"},   {"rope_theta", 500000.0},
                             {"factor", 8.0},           {"low_freq_factor", 2.0},
                             {"high_freq_factor", 6.0}, {"original_max_position_embeddings", 4096}};
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->rope_theta, 500000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.low_freq_factor, 2.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.high_freq_factor, 6.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 4096);
}

TEST(ModelConfigFieldsTest, RopeParametersWinOverRopeScaling) {
  json text = LlamaConfigJson();
  text["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  text["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 123.0}};
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.type, RopeType::kDefault);
  EXPECT_DOUBLE_EQ(config->rope_theta, 123.0);
}

TEST(ModelConfigFieldsTest, ReadsDtypeUnderBothKeys) {
  json text = LlamaConfigJson();
  text["torch_dtype"] = "float16";
  absl::StatusOr<ModelConfig> legacy = ParseConfigJson(text);
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_EQ(legacy->torch_dtype, WeightDtype::kFloat16);

  text.erase("torch_dtype");
  text["dtype"] = "bfloat16";
  absl::StatusOr<ModelConfig> current = ParseConfigJson(text);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->torch_dtype, WeightDtype::kBFloat16);
}

TEST(ModelConfigFieldsTest, AcceptsMistralWithoutSlidingWindow) {
  json text = LlamaConfigJson();
  text["architectures"] = {"MistralForCausalLM"};
  text["sliding_window"] = nullptr;
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, "MistralForCausalLM");
}

TEST(ModelConfigFieldsTest, DemoConfigIsAConsistentTiedLlama) {
  const ModelConfig demo = DemoModelConfig();
  EXPECT_EQ(demo.architecture, "LlamaForCausalLM");
  EXPECT_EQ(demo.num_attention_heads * demo.head_dim, demo.hidden_size);
  EXPECT_EQ(demo.num_attention_heads % demo.num_key_value_heads, 0);
  EXPECT_TRUE(demo.tie_word_embeddings);
  ASSERT_TRUE(demo.bos_token_id.has_value());
  EXPECT_LT(*demo.bos_token_id, demo.vocab_size);
  ASSERT_EQ(demo.eos_token_ids.size(), 1u);
  EXPECT_LT(demo.eos_token_ids[0], demo.vocab_size);
}

}  // namespace
}  // namespace deltaserve
