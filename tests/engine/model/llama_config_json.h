#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/model/model_config.h"

namespace deltaserve {

// A valid config.json of stories260K's shape; each test changes the fields it is about.
inline nlohmann::json LlamaConfigJson() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", 64},
          {"intermediate_size", 172},
          {"num_hidden_layers", 5},
          {"num_attention_heads", 8},
          {"num_key_value_heads", 4},
          {"vocab_size", 512},
          {"max_position_embeddings", 512},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"rope_scaling", nullptr},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", true},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"torch_dtype", "float32"}};
}

inline absl::StatusOr<ModelConfig> ParseConfigJson(const nlohmann::json& config) {
  return ParseModelConfig(config.dump(), "/models/tiny/config.json");
}

}  // namespace deltaserve
