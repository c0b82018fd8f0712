#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/regex.h"

namespace deltaserve::tokenization {

// One entry of tokenizer.json "added_tokens".
struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;       // the match swallows whitespace before it
  bool rstrip = false;       // ... and after it
  bool single_word = false;  // matches only when not inside a word
  bool normalized = false;   // matched in normalized text rather than in the input
};

// A piece of input: plain text for the model, or an added token found in the text.
struct TextSegment {
  std::string_view text;
  std::optional<int32_t> added_token_id;
};

// Finds added tokens in text the way Hugging Face's AddedVocabulary does: leftmost
// match, longest among those starting there, non-overlapping, then lstrip / rstrip /
// single_word applied to each match.
class AddedTokenMatcher {
 public:
  static absl::StatusOr<AddedTokenMatcher> Create(std::vector<AddedToken> tokens);

  // Segments cover `text` in order; empty plain segments are left out.
  std::vector<TextSegment> Split(std::string_view text) const;

 private:
  AddedTokenMatcher(std::vector<AddedToken> tokens, Regex word_character);
  // The longest token that starts at text[pos], if any.
  const AddedToken* LongestMatchAt(std::string_view text, size_t pos) const;
  bool IsWordCharacterBefore(std::string_view text, size_t pos) const;
  bool IsWordCharacterAt(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  // Indices into tokens_ by first byte, longest token first.
  std::unordered_map<char, std::vector<size_t>> by_first_byte_;
  Regex word_character_;
};

}  // namespace deltaserve::tokenization
