#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/json_field.h"

namespace deltaserve::tokenization {

// What Encode(add_special_tokens=true) puts around the text, and the BOS/EOS ids.
struct SpecialTokenPlan {
  std::vector<int32_t> prefix;
  std::vector<int32_t> suffix;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
};

using TokenLookup = std::function<std::optional<int32_t>(std::string_view)>;

// From tokenizer.json "post_processor" (TemplateProcessing, ByteLevel, Sequence; may be
// absent) and, when present, tokenizer_config.json, whose add_bos_token / add_eos_token
// override the template as transformers' Llama tokenizers do.
absl::StatusOr<SpecialTokenPlan> ParseSpecialTokenPlan(
    const std::optional<JsonField>& post_processor, const std::optional<JsonField>& config,
    const TokenLookup& lookup);

}  // namespace deltaserve::tokenization
