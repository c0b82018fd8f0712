#include "engine/runtime/model_source.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"

namespace deltaserve {
namespace {

std::string ShapeSummary(const ModelConfig& config) {
  return absl::StrCat("hidden ", config.hidden_size, ", ", config.num_hidden_layers, " layers, ",
                      config.num_attention_heads, "/", config.num_key_value_heads, " heads, head_dim ",
                      config.head_dim, ", ffn ", config.intermediate_size, ", vocab ", config.vocab_size);
}

}  // namespace

absl::StatusOr<LoadFormat> ParseLoadFormat(const std::string& name) {
  if (name == "safetensors" || name == "auto") return LoadFormat::kSafetensors;
  if (name == "dummy") return LoadFormat::kDummy;
  return absl::InvalidArgumentError(
      absl::StrCat("load-format: unknown value '", name, "' (expected auto, safetensors or dummy)"));
}

absl::StatusOr<ModelSource> LoadModelSource(const std::string& dir, LoadFormat format, uint64_t dummy_seed) {
  ModelSource source;
  DS_ASSIGN_OR_RETURN(source.config, LoadModelConfig(dir));
  if (format == LoadFormat::kDummy) {
    source.weights = MakeDummyLlamaWeights(source.config, dummy_seed);
    source.description = absl::StrCat(dir, " with random weights (--load-format dummy): ", ShapeSummary(source.config));
  } else {
    DS_ASSIGN_OR_RETURN(source.weights, LoadLlamaWeights(dir, source.config));
    source.description = absl::StrCat(dir, ": ", ShapeSummary(source.config));
  }
  std::error_code error;
  if (std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json", error)) {
    DS_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::Load(dir));
    source.tokenizer = std::move(tokenizer);
  } else if (format == LoadFormat::kDummy) {
    source.tokenizer = Tokenizer::ByteLevel(source.config.vocab_size, source.config.bos_token_id,
                                            source.config.eos_token_ids.empty()
                                                ? std::nullopt
                                                : std::optional<int32_t>(source.config.eos_token_ids.front()));
    source.warnings.push_back(absl::StrCat(dir, " has no tokenizer.json: using a byte-level tokenizer"));
  } else {
    source.warnings.push_back(absl::StrCat(dir,
                                           " has no tokenizer.json: prompts must be token ids and outputs carry "
                                           "token ids only (their text is empty)"));
  }
  return source;
}

absl::StatusOr<ModelSource> LoadModelSourceFromFlags(const std::string& dir, bool demo_model,
                                                     const std::string& load_format) {
  if (demo_model == !dir.empty()) {
    return absl::InvalidArgumentError("give exactly one of --model DIR and --demo-model");
  }
  if (demo_model) return LoadDemoModelSource();
  DS_ASSIGN_OR_RETURN(LoadFormat format, ParseLoadFormat(load_format));
  return LoadModelSource(dir, format);
}

ModelSource LoadDemoModelSource() {
  ModelSource source;
  source.config = DemoModelConfig();
  source.weights = MakeDummyLlamaWeights(source.config, /*seed=*/0);
  source.tokenizer = Tokenizer::ByteLevel(source.config.vocab_size, source.config.bos_token_id,
                                          source.config.eos_token_ids.front());
  source.description = absl::StrCat("built-in demo model (random weights, byte-level tokenizer): ",
                                    ShapeSummary(source.config));
  source.warnings.push_back(
      "the built-in demo model has random weights: its output is noise; pass a Hugging Face checkpoint "
      "directory to get real text");
  return source;
}

}  // namespace deltaserve
