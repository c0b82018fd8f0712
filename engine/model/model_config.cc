#include "engine/model/model_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"

namespace deltaserve {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Reads typed fields of one JSON object. Every error names the source file and the
// field's path (e.g. "rope_scaling.factor"), so a user can find the line to fix.
class FieldReader {
 public:
  FieldReader(const json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  // JSON null counts as absent: Hugging Face writes `"rope_scaling": null` for "none".
  bool Has(const std::string& key) const { return Find(key) != nullptr; }

  absl::Status Error(const std::string& key, const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", prefix_, key, ": ", message));
  }

  // A missing field without a fallback is an error.
  absl::StatusOr<int64_t> Int(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const {
    const json* value = Find(key);
    if (value == nullptr) return FallbackOrMissing(key, fallback);
    if (!value->is_number_integer()) return Error(key, absl::StrCat("expected an integer, got ", value->dump()));
    if (value->is_number_unsigned() &&
        value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Error(key, absl::StrCat(value->dump(), " is too large"));
    }
    return value->get<int64_t>();
  }

  absl::StatusOr<int64_t> PositiveInt(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const {
    DS_ASSIGN_OR_RETURN(int64_t number, Int(key, fallback));
    if (number <= 0) return Error(key, absl::StrCat(number, " must be positive"));
    return number;
  }

  absl::StatusOr<double> PositiveDouble(const std::string& key, double fallback) const {
    const json* value = Find(key);
    if (value == nullptr) return fallback;
    if (!value->is_number()) return Error(key, absl::StrCat("expected a number, got ", value->dump()));
    double number = value->get<double>();
    if (!(number > 0)) return Error(key, absl::StrCat(value->dump(), " must be positive"));
    return number;
  }

  absl::StatusOr<bool> Bool(const std::string& key, bool fallback) const {
    const json* value = Find(key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) return Error(key, absl::StrCat("expected true or false, got ", value->dump()));
    return value->get<bool>();
  }

  absl::StatusOr<std::optional<std::string>> String(const std::string& key) const {
    const json* value = Find(key);
    if (value == nullptr) return std::optional<std::string>();
    if (!value->is_string()) return Error(key, absl::StrCat("expected a string, got ", value->dump()));
    return std::optional<std::string>(value->get<std::string>());
  }

  // A nested object such as rope_scaling; nullopt when absent.
  absl::StatusOr<std::optional<FieldReader>> Object(const std::string& key) const {
    const json* value = Find(key);
    if (value == nullptr) return std::optional<FieldReader>();
    if (!value->is_object()) return Error(key, absl::StrCat("expected an object, got ", value->dump()));
    return std::optional<FieldReader>(FieldReader(*value, source_, absl::StrCat(prefix_, key, ".")));
  }

  // Token ids come as one integer or a list of them (Llama 3 has several EOS ids).
  absl::StatusOr<std::vector<int32_t>> TokenIds(const std::string& key, int64_t vocab_size) const {
    const json* value = Find(key);
    if (value == nullptr) return std::vector<int32_t>();
    const json list = value->is_array() ? *value : json::array({*value});
    std::vector<int32_t> ids;
    for (const json& id : list) {
      if (!id.is_number_integer()) {
        return Error(key, absl::StrCat("expected an integer or a list of integers, got ", value->dump()));
      }
      int64_t number = id.get<int64_t>();
      if (number < 0 || number >= vocab_size) {
        return Error(key, absl::StrCat(number, " is outside the vocabulary [0, ", vocab_size, ")"));
      }
      ids.push_back(static_cast<int32_t>(number));
    }
    return ids;
  }

 private:
  const json* Find(const std::string& key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  absl::StatusOr<int64_t> FallbackOrMissing(const std::string& key, std::optional<int64_t> fallback) const {
    if (fallback.has_value()) return *fallback;
    return Error(key, "missing");
  }

  const json& object_;
  std::string source_;
  std::string prefix_;
};

absl::StatusOr<std::string> ReadTextFile(const fs::path& path) {
  std::error_code error;
  if (!fs::exists(path, error)) return absl::NotFoundError(absl::StrCat(path.string(), ": not found"));
  if (!fs::is_regular_file(path, error)) {
    return absl::FailedPreconditionError(absl::StrCat(path.string(), ": not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(absl::StrCat(path.string(), ": cannot open: ", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path.string(), ": read failed: ", std::strerror(errno)));
  return text.str();
}

absl::StatusOr<json> ParseJsonObject(std::string_view text, const std::string& source) {
  json document;
  try {
    document = json::parse(text.begin(), text.end());
  } catch (const json::exception& error) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed JSON: ", error.what()));
  }
  if (!document.is_object()) return absl::InvalidArgumentError(absl::StrCat(source, ": expected a JSON object"));
  return document;
}

// Mistral shares Llama's forward pass except for sliding-window attention, which this
// engine does not implement; a Mistral without a window is a Llama.
absl::StatusOr<std::string> ParseArchitecture(const FieldReader& fields, const json& config) {
  const auto architectures = config.find("architectures");
  if (architectures == config.end() || !architectures->is_array() || architectures->empty() ||
      !(*architectures)[0].is_string()) {
    return fields.Error("architectures", "expected a list naming the model class, e.g. [\"LlamaForCausalLM\"]");
  }
  std::string architecture = (*architectures)[0].get<std::string>();
  if (architecture == "LlamaForCausalLM") return architecture;
  if (architecture == "MistralForCausalLM") {
    if (!fields.Has("sliding_window")) return architecture;
    DS_ASSIGN_OR_RETURN(int64_t sliding_window, fields.Int("sliding_window"));
    return fields.Error(
        "sliding_window",
        absl::StrCat(sliding_window, " is not supported (MistralForCausalLM is served only without a sliding window)"));
  }
  return fields.Error("architectures", absl::StrCat("unsupported architecture '", architecture,
                                                    "' (supported: LlamaForCausalLM, MistralForCausalLM)"));
}

absl::StatusOr<RopeType> ParseRopeType(const FieldReader& rope) {
  // Older configs name the key "type"; transformers >= 4.45 writes "rope_type".
  const std::string key = rope.Has("rope_type") ? "rope_type" : "type";
  DS_ASSIGN_OR_RETURN(std::optional<std::string> name, rope.String(key));
  if (!name.has_value() || *name == "default") return RopeType::kDefault;
  if (*name == "linear") return RopeType::kLinear;
  if (*name == "llama3") return RopeType::kLlama3;
  return rope.Error(key, absl::StrCat("unknown rope type '", *name, "' (supported: default, linear, llama3)"));
}

absl::StatusOr<RopeScaling> ParseRopeScaling(const FieldReader& rope) {
  RopeScaling scaling;
  DS_ASSIGN_OR_RETURN(scaling.type, ParseRopeType(rope));
  if (scaling.type == RopeType::kDefault) return scaling;
  DS_ASSIGN_OR_RETURN(scaling.factor, rope.PositiveDouble("factor", scaling.factor));
  if (scaling.type == RopeType::kLinear) return scaling;
  DS_ASSIGN_OR_RETURN(scaling.low_freq_factor, rope.PositiveDouble("low_freq_factor", scaling.low_freq_factor));
  DS_ASSIGN_OR_RETURN(scaling.high_freq_factor, rope.PositiveDouble("high_freq_factor", scaling.high_freq_factor));
  DS_ASSIGN_OR_RETURN(scaling.original_max_position_embeddings,
                      rope.PositiveInt("original_max_position_embeddings", scaling.original_max_position_embeddings));
  // llama3 interpolates between the two wavelength bounds; equal bounds divide by zero.
  if (scaling.high_freq_factor <= scaling.low_freq_factor) {
    return rope.Error(
        "high_freq_factor",
        absl::StrCat(scaling.high_freq_factor, " must be greater than low_freq_factor ", scaling.low_freq_factor));
  }
  return scaling;
}

// Newer transformers put rope settings (and rope_theta) under rope_parameters; older ones
// use rope_scaling next to a top-level rope_theta.
absl::Status ParseRope(const FieldReader& fields, ModelConfig& config) {
  DS_ASSIGN_OR_RETURN(config.rope_theta, fields.PositiveDouble("rope_theta", config.rope_theta));
  const std::string key = fields.Has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  DS_ASSIGN_OR_RETURN(std::optional<FieldReader> rope, fields.Object(key));
  if (!rope.has_value()) return absl::OkStatus();
  DS_ASSIGN_OR_RETURN(config.rope_theta, rope->PositiveDouble("rope_theta", config.rope_theta));
  DS_ASSIGN_OR_RETURN(config.rope_scaling, ParseRopeScaling(*rope));
  return absl::OkStatus();
}

absl::StatusOr<WeightDtype> ParseDtype(const FieldReader& fields) {
  // transformers >= 4.56 writes "dtype"; earlier versions "torch_dtype".
  const std::string key = fields.Has("dtype") ? "dtype" : "torch_dtype";
  DS_ASSIGN_OR_RETURN(std::optional<std::string> name, fields.String(key));
  if (!name.has_value() || *name == "float32") return WeightDtype::kFloat32;
  if (*name == "bfloat16") return WeightDtype::kBFloat16;
  if (*name == "float16") return WeightDtype::kFloat16;
  return fields.Error(key, absl::StrCat("unsupported dtype '", *name, "' (supported: float32, bfloat16, float16)"));
}

// The forward pass implements plain Llama blocks: SiLU MLP, no biases.
absl::Status CheckUnsupportedFeatures(const FieldReader& fields) {
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    DS_ASSIGN_OR_RETURN(bool has_bias, fields.Bool(key, false));
    if (has_bias) return fields.Error(key, "true is not supported (Llama projections have no bias)");
  }
  DS_ASSIGN_OR_RETURN(std::optional<std::string> activation, fields.String("hidden_act"));
  if (activation.has_value() && *activation != "silu") {
    return fields.Error("hidden_act", absl::StrCat("'", *activation, "' is not supported (only silu)"));
  }
  return absl::OkStatus();
}

absl::Status ParseAttentionShape(const FieldReader& fields, ModelConfig& config) {
  DS_ASSIGN_OR_RETURN(config.num_attention_heads, fields.PositiveInt("num_attention_heads"));
  DS_ASSIGN_OR_RETURN(config.num_key_value_heads,
                      fields.PositiveInt("num_key_value_heads", config.num_attention_heads));
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    return fields.Error(
        "num_key_value_heads",
        absl::StrCat(config.num_key_value_heads, " does not divide num_attention_heads ", config.num_attention_heads));
  }
  if (fields.Has("head_dim")) {
    DS_ASSIGN_OR_RETURN(config.head_dim, fields.PositiveInt("head_dim"));
    return absl::OkStatus();
  }
  if (config.hidden_size % config.num_attention_heads != 0) {
    return fields.Error("num_attention_heads", absl::StrCat(config.num_attention_heads, " does not divide hidden_size ",
                                                            config.hidden_size, " and there is no head_dim"));
  }
  config.head_dim = config.hidden_size / config.num_attention_heads;
  return absl::OkStatus();
}

absl::Status ParseTokenIds(const FieldReader& fields, ModelConfig& config) {
  DS_ASSIGN_OR_RETURN(std::vector<int32_t> bos, fields.TokenIds("bos_token_id", config.vocab_size));
  if (bos.size() > 1) return fields.Error("bos_token_id", "expected one id, got a list");
  if (!bos.empty()) config.bos_token_id = bos.front();
  DS_ASSIGN_OR_RETURN(config.eos_token_ids, fields.TokenIds("eos_token_id", config.vocab_size));
  return absl::OkStatus();
}

absl::Status ApplyGenerationConfig(const fs::path& path, ModelConfig& config) {
  DS_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  DS_ASSIGN_OR_RETURN(json document, ParseJsonObject(text, path.string()));
  FieldReader fields(document, path.string());
  DS_ASSIGN_OR_RETURN(std::vector<int32_t> eos_token_ids, fields.TokenIds("eos_token_id", config.vocab_size));
  if (!eos_token_ids.empty()) config.eos_token_ids = std::move(eos_token_ids);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view config_json, std::string_view source) {
  const std::string source_name(source);
  DS_ASSIGN_OR_RETURN(json document, ParseJsonObject(config_json, source_name));
  FieldReader fields(document, source_name);
  ModelConfig config;
  DS_ASSIGN_OR_RETURN(config.architecture, ParseArchitecture(fields, document));
  DS_RETURN_IF_ERROR(CheckUnsupportedFeatures(fields));
  DS_ASSIGN_OR_RETURN(config.hidden_size, fields.PositiveInt("hidden_size"));
  DS_ASSIGN_OR_RETURN(config.intermediate_size, fields.PositiveInt("intermediate_size"));
  DS_ASSIGN_OR_RETURN(config.num_hidden_layers, fields.PositiveInt("num_hidden_layers"));
  DS_RETURN_IF_ERROR(ParseAttentionShape(fields, config));
  DS_ASSIGN_OR_RETURN(config.rms_norm_eps, fields.PositiveDouble("rms_norm_eps", config.rms_norm_eps));
  DS_RETURN_IF_ERROR(ParseRope(fields, config));
  DS_ASSIGN_OR_RETURN(config.max_position_embeddings,
                      fields.PositiveInt("max_position_embeddings", config.max_position_embeddings));
  DS_ASSIGN_OR_RETURN(config.tie_word_embeddings, fields.Bool("tie_word_embeddings", config.tie_word_embeddings));
  DS_ASSIGN_OR_RETURN(config.vocab_size, fields.PositiveInt("vocab_size"));
  DS_RETURN_IF_ERROR(ParseTokenIds(fields, config));
  DS_ASSIGN_OR_RETURN(config.torch_dtype, ParseDtype(fields));
  return config;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": model directory not found or not a directory"));
  }
  const fs::path config_path = dir / "config.json";
  DS_ASSIGN_OR_RETURN(std::string text, ReadTextFile(config_path));
  DS_ASSIGN_OR_RETURN(ModelConfig config, ParseModelConfig(text, config_path.string()));
  const fs::path generation_path = dir / "generation_config.json";
  if (fs::exists(generation_path, error)) DS_RETURN_IF_ERROR(ApplyGenerationConfig(generation_path, config));
  return config;
}

// Random weights (MakeDummyLlamaWeights) give this shape noise for outputs; it exists so
// the server, engine and benchmarks run end to end without downloading a checkpoint.
ModelConfig DemoModelConfig() {
  ModelConfig config;
  config.architecture = "LlamaForCausalLM";
  config.hidden_size = 256;
  config.intermediate_size = 688;
  config.num_hidden_layers = 4;
  config.num_attention_heads = 8;
  config.num_key_value_heads = 4;
  config.head_dim = config.hidden_size / config.num_attention_heads;
  config.rms_norm_eps = 1e-5;
  config.rope_theta = 10000.0;
  config.max_position_embeddings = 4096;
  config.tie_word_embeddings = true;
  config.vocab_size = 512;
  config.bos_token_id = 1;
  config.eos_token_ids = {2};
  config.torch_dtype = WeightDtype::kFloat32;
  return config;
}

}  // namespace deltaserve
