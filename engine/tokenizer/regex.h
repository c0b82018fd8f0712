#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/json_field.h"

struct pcre2_real_code_8;

namespace deltaserve::tokenization {

// A PCRE2 pattern compiled with UTF and UCP, so that \p{L}, \s and (?i:) follow Unicode
// as the Oniguruma patterns in tokenizer.json expect. Immutable and shareable between
// threads.
class Regex {
 public:
  // `literal` matches the pattern text itself.
  static absl::StatusOr<Regex> Compile(std::string_view pattern, bool literal);

  // [begin, end) byte ranges of the non-overlapping, non-empty matches, left to right.
  // `text` must be valid UTF-8.
  absl::StatusOr<std::vector<std::pair<size_t, size_t>>> FindAll(std::string_view text) const;

 private:
  Regex(std::shared_ptr<pcre2_real_code_8> code, std::optional<std::string> literal)
      : code_(std::move(code)), literal_(std::move(literal)) {}
  std::shared_ptr<pcre2_real_code_8> code_;
  // Literal patterns are searched with std::string_view::find: the decoder's
  // Replace("▁", " ") runs once per token, where PCRE2's setup cost dominates.
  std::optional<std::string> literal_;
};

// A tokenizer.json pattern: {"String": "literal"} or {"Regex": "pattern"}.
absl::StatusOr<Regex> ParsePattern(const JsonField& pattern);

// `text` with every match of `pattern` replaced by `content`.
absl::StatusOr<std::string> ReplaceAll(const Regex& pattern, std::string_view text,
                                       std::string_view content);

}  // namespace deltaserve::tokenization
