#include "engine/tokenizer/tokenizer.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/bpe_tokenizer.h"
#include "engine/tokenizer/byte_tokenizer.h"
#include "engine/tokenizer/json_field.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace deltaserve {
namespace {

absl::StatusOr<nlohmann::json> ReadJson(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot open"));
  std::stringstream contents;
  contents << file.rdbuf();
  // nlohmann reports malformed JSON by exception; it stops here.
  try {
    return nlohmann::json::parse(contents.str());
  } catch (const nlohmann::json::exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": not valid JSON: ", error.what()));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::filesystem::path& dir) {
  const std::filesystem::path tokenizer_path = dir / "tokenizer.json";
  DS_ASSIGN_OR_RETURN(const nlohmann::json tokenizer_json, ReadJson(tokenizer_path));
  const tokenization::JsonField tokenizer(tokenizer_json, tokenizer_path.string(), "");
  if (!tokenizer.is_object()) return tokenizer.Error("expected a JSON object");

  const std::filesystem::path config_path = dir / "tokenizer_config.json";
  nlohmann::json config_json;
  std::optional<tokenization::JsonField> config;
  if (std::filesystem::exists(config_path)) {
    DS_ASSIGN_OR_RETURN(config_json, ReadJson(config_path));
    config.emplace(config_json, config_path.string(), "");
    if (!config->is_object()) return config->Error("expected a JSON object");
  }
  DS_ASSIGN_OR_RETURN(std::unique_ptr<tokenization::BpeTokenizer> bpe,
                      tokenization::BpeTokenizer::Parse(tokenizer, config));
  return std::unique_ptr<Tokenizer>(std::move(bpe));
}

std::unique_ptr<Tokenizer> Tokenizer::ByteLevel(int64_t vocab_size, std::optional<int32_t> bos_id,
                                                std::optional<int32_t> eos_id) {
  return std::make_unique<tokenization::ByteTokenizer>(vocab_size, bos_id, eos_id);
}

}  // namespace deltaserve
