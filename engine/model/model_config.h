#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace deltaserve {

enum class RopeType { kDefault, kLinear, kLlama3 };

struct RopeScaling {
  RopeType type = RopeType::kDefault;
  double factor = 1.0;
  // llama3 only.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

enum class WeightDtype { kFloat32, kBFloat16, kFloat16 };

// What the forward pass needs from a Hugging Face Llama-family config.json and
// generation_config.json.
struct ModelConfig {
  std::string architecture = "LlamaForCausalLM";
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads unless config.json says otherwise
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  int64_t vocab_size = 0;
  std::optional<int32_t> bos_token_id;
  // generation_config.json wins over config.json when both name EOS ids.
  std::vector<int32_t> eos_token_ids;
  WeightDtype torch_dtype = WeightDtype::kFloat32;
};

// Reads dir/config.json and, when present, dir/generation_config.json. Errors name the
// file, the field and the problem.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::filesystem::path& dir);

// Parses the text of a config.json; `source` names it in error messages.
absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view config_json, std::string_view source);

// The built-in demo model: a small Llama shape with seeded random weights, so the
// project runs with no download. Its outputs are noise and every tool that uses it
// says so.
ModelConfig DemoModelConfig();

}  // namespace deltaserve
