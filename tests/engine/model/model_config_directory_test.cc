#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "engine/model/model_config.h"
#include "tests/engine/model/llama_config_json.h"
#include "tests/engine/model/safetensors_writer.h"
#include "tests/support/temp_dir.h"

namespace deltaserve {
namespace {

using test_support::TempDir;

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kStoriesDir = fs::path(DELTASERVE_SHARED_MODELS_DIR) / "stories260K";

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(ModelConfigDirectoryTest, LoadsStories260K) {
  absl::StatusOr<ModelConfig> config = LoadModelConfig(kStoriesDir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hidden_size, 64);
  EXPECT_EQ(config->num_hidden_layers, 5);
  EXPECT_EQ(config->num_attention_heads, 8);
  EXPECT_EQ(config->num_key_value_heads, 4);
  EXPECT_EQ(config->head_dim, 8);
  EXPECT_EQ(config->intermediate_size, 172);
  EXPECT_EQ(config->vocab_size, 512);
  EXPECT_EQ(config->max_position_embeddings, 512);
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_EQ(config->bos_token_id, 1);
  EXPECT_EQ(config->eos_token_ids, std::vector<int32_t>({2}));
}

TEST(ModelConfigDirectoryTest, GenerationConfigEosListOverridesConfig) {
  TempDir dir;
  WriteTextFile(dir.path() / "config.json", LlamaConfigJson().dump());
  WriteTextFile(dir.path() / "generation_config.json", R"({"bos_token_id": 1, "eos_token_id": [2, 7]})");
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->eos_token_ids, std::vector<int32_t>({2, 7}));
}

TEST(ModelConfigDirectoryTest, GenerationConfigEosIntegerOverridesConfig) {
  TempDir dir;
  WriteTextFile(dir.path() / "config.json", LlamaConfigJson().dump());
  WriteTextFile(dir.path() / "generation_config.json", R"({"eos_token_id": 5})");
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->eos_token_ids, std::vector<int32_t>({5}));
}

TEST(ModelConfigDirectoryTest, GenerationConfigWithoutEosKeepsConfigEos) {
  TempDir dir;
  WriteTextFile(dir.path() / "config.json", LlamaConfigJson().dump());
  WriteTextFile(dir.path() / "generation_config.json", R"({"temperature": 0.6})");
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->eos_token_ids, std::vector<int32_t>({2}));
}

TEST(ModelConfigDirectoryTest, MissingDirectoryIsNamed) {
  TempDir dir;
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path() / "no_such_model");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(config.status()), HasSubstr((dir.path() / "no_such_model").string()));
}

// Runs as root in CI, where permission bits do not stop reads; a path of the wrong kind
// is the unreadable case every user can hit.
TEST(ModelConfigDirectoryTest, FileInsteadOfDirectoryIsNamed) {
  TempDir dir;
  WriteTextFile(dir.path() / "model.bin", "not a directory");
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path() / "model.bin");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr((dir.path() / "model.bin").string() + ": model directory"));
}

TEST(ModelConfigDirectoryTest, MissingConfigJsonIsNamed) {
  TempDir dir;
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(config.status()), HasSubstr((dir.path() / "config.json").string() + ": not found"));
}

TEST(ModelConfigDirectoryTest, UnreadableConfigJsonIsNamed) {
  TempDir dir;
  fs::create_directory(dir.path() / "config.json");
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr((dir.path() / "config.json").string() + ": not a regular file"));
}

TEST(ModelConfigDirectoryTest, ErrorsInConfigJsonNameItsPath) {
  TempDir dir;
  json text = LlamaConfigJson();
  text["architectures"] = {"GPT2LMHeadModel"};
  WriteTextFile(dir.path() / "config.json", text.dump());
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr((dir.path() / "config.json").string() +
                                                  ": architectures: unsupported architecture 'GPT2LMHeadModel'"));
}

TEST(ModelConfigDirectoryTest, ErrorsInGenerationConfigNameItsPathAndField) {
  TempDir dir;
  WriteTextFile(dir.path() / "config.json", LlamaConfigJson().dump());
  WriteTextFile(dir.path() / "generation_config.json", R"({"eos_token_id": [2, 99999]})");
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr((dir.path() / "generation_config.json").string() +
                                                  ": eos_token_id: 99999 is outside the vocabulary [0, 512)"));
}

TEST(ModelConfigDirectoryTest, MalformedGenerationConfigIsNamed) {
  TempDir dir;
  WriteTextFile(dir.path() / "config.json", LlamaConfigJson().dump());
  WriteTextFile(dir.path() / "generation_config.json", "{eos");
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()),
              HasSubstr((dir.path() / "generation_config.json").string() + ": malformed JSON"));
}

}  // namespace
}  // namespace deltaserve
