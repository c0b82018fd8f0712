#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/model/model_config.h"
#include "tests/engine/model/llama_config_json.h"

namespace deltaserve {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;

struct BadConfig {
  std::string name;
  std::function<void(json&)> spoil;
  // The error must say where the problem is and what it is.
  std::vector<std::string> message_parts;
};

void PrintTo(const BadConfig& bad, std::ostream* out) { *out << bad.name; }

class ModelConfigRejectsBadInputTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ModelConfigRejectsBadInputTest, NamesFileFieldAndValue) {
  json text = LlamaConfigJson();
  GetParam().spoil(text);
  absl::StatusOr<ModelConfig> config = ParseConfigJson(text);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("/models/tiny/config.json: "));
  for (const std::string& part : GetParam().message_parts) {
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(part));
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryCheck, ModelConfigRejectsBadInputTest,
    ::testing::Values(
        BadConfig{"UnsupportedArchitecture",
                  [](json& c) { c["architectures"] = {"Qwen2ForCausalLM"}; },
                  {"architectures: unsupported architecture 'Qwen2ForCausalLM'"}},
        BadConfig{"MissingArchitectures", [](json& c) { c.erase("architectures"); }, {"architectures: "}},
        BadConfig{"MistralWithSlidingWindow",
                  [](json& c) {
                    c["architectures"] = {"MistralForCausalLM"};
                    c["sliding_window"] = 4096;
                  },
                  {"sliding_window: 4096 is not supported"}},
        BadConfig{"UnknownRopeType",
                  [](json& c) {
                    c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
                  },
                  {"rope_scaling.rope_type: unknown rope type 'yarn'"}},
        BadConfig{"UnknownLegacyRopeTypeUnderRopeParameters",
                  [](json& c) {
                    c["rope_parameters"] = {{"type", "dynamic"}, {"factor", 2.0}};
                  },
                  {"rope_parameters.type: unknown rope type 'dynamic'"}},
        BadConfig{"NonPositiveRopeFactor",
                  [](json& c) {
                    c["rope_scaling"] = {{"type", "linear"}, {"factor", 0}};
                  },
                  {"rope_scaling.factor: 0 must be positive"}},
        BadConfig{"Llama3FrequencyBoundsReversed",
                  [](json& c) {
                    c["rope_scaling"] = {{"rope_type", "llama3"},
                                         {"factor", 8.0},
                                         {"low_freq_factor", 4.0},
                                         {"high_freq_factor", 1.0},
                                         {"original_max_position_embeddings", 8192}};
                  },
                  {"rope_scaling.high_freq_factor: 1 must be greater than low_freq_factor 4"}},
        BadConfig{"KeyValueHeadsDoNotDivideHeads",
                  [](json& c) { c["num_key_value_heads"] = 3; },
                  {"num_key_value_heads: 3 does not divide num_attention_heads 8"}},
        BadConfig{"HeadsDoNotDivideHiddenWithoutHeadDim",
                  [](json& c) { c["hidden_size"] = 60; },
                  {"num_attention_heads: 8 does not divide hidden_size 60"}},
        BadConfig{"MissingHiddenSize", [](json& c) { c.erase("hidden_size"); }, {"hidden_size: missing"}},
        BadConfig{"HiddenSizeNotAnInteger",
                  [](json& c) { c["hidden_size"] = "64"; },
                  {"hidden_size: expected an integer, got \"64\""}},
        BadConfig{"ZeroHiddenSize", [](json& c) { c["hidden_size"] = 0; }, {"hidden_size: 0 must be positive"}},
        BadConfig{"NegativeIntermediateSize",
                  [](json& c) { c["intermediate_size"] = -4; },
                  {"intermediate_size: -4 must be positive"}},
        BadConfig{"ZeroLayers", [](json& c) { c["num_hidden_layers"] = 0; }, {"num_hidden_layers: 0 must be positive"}},
        BadConfig{
            "ZeroHeads", [](json& c) { c["num_attention_heads"] = 0; }, {"num_attention_heads: 0 must be positive"}},
        BadConfig{"ZeroHeadDim", [](json& c) { c["head_dim"] = 0; }, {"head_dim: 0 must be positive"}},
        BadConfig{"ZeroVocab", [](json& c) { c["vocab_size"] = 0; }, {"vocab_size: 0 must be positive"}},
        BadConfig{"ZeroMaxPositions",
                  [](json& c) { c["max_position_embeddings"] = 0; },
                  {"max_position_embeddings: 0 must be positive"}},
        BadConfig{
            "NegativeNormEps", [](json& c) { c["rms_norm_eps"] = -1e-5; }, {"rms_norm_eps: ", "must be positive"}},
        BadConfig{
            "AttentionBias", [](json& c) { c["attention_bias"] = true; }, {"attention_bias: true is not supported"}},
        BadConfig{"MlpBias", [](json& c) { c["mlp_bias"] = true; }, {"mlp_bias: true is not supported"}},
        BadConfig{"TieNotABool",
                  [](json& c) { c["tie_word_embeddings"] = "yes"; },
                  {"tie_word_embeddings: expected true or false"}},
        BadConfig{"GeluActivation", [](json& c) { c["hidden_act"] = "gelu"; }, {"hidden_act: 'gelu' is not supported"}},
        BadConfig{"UnsupportedDtype",
                  [](json& c) { c["torch_dtype"] = "float8_e4m3fn"; },
                  {"torch_dtype: unsupported dtype 'float8_e4m3fn'"}},
        BadConfig{"EosOutsideVocabulary",
                  [](json& c) {
                    c["eos_token_id"] = {2, 512};
                  },
                  {"eos_token_id: 512 is outside the vocabulary [0, 512)"}},
        BadConfig{"EosNotAnInteger",
                  [](json& c) { c["eos_token_id"] = "</s>"; },
                  {"eos_token_id: expected an integer or a list of integers"}},
        BadConfig{"BosList",
                  [](json& c) {
                    c["bos_token_id"] = {1, 2};
                  },
                  {"bos_token_id: expected one id"}}),
    [](const ::testing::TestParamInfo<BadConfig>& param_info) { return param_info.param.name; });

TEST(ModelConfigRejectsMalformedJsonTest, NamesTheSource) {
  absl::StatusOr<ModelConfig> config = ParseModelConfig("{\"hidden_size\": 64,", "/models/tiny/config.json");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              AllOf(HasSubstr("/models/tiny/config.json"), HasSubstr("malformed JSON")));
}

TEST(ModelConfigRejectsMalformedJsonTest, RejectsANonObjectDocument) {
  absl::StatusOr<ModelConfig> config = ParseModelConfig("[1, 2]", "/models/tiny/config.json");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("/models/tiny/config.json: expected a JSON object"));
}

}  // namespace
}  // namespace deltaserve
