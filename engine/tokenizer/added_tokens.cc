#include "engine/tokenizer/added_tokens.h"

#include <algorithm>
#include <utility>

#include "engine/tokenizer/utf8.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

char32_t DecodeCodePoint(std::string_view character) {
  const auto lead = static_cast<uint8_t>(character[0]);
  if (character.size() == 1) return lead;
  char32_t code_point = lead & (0xFF >> (character.size() + 1));
  for (size_t i = 1; i < character.size(); ++i) {
    code_point = (code_point << 6) | (static_cast<uint8_t>(character[i]) & 0x3F);
  }
  return code_point;
}

// Unicode White_Space, which is what Rust's char::is_whitespace tests.
bool IsWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

size_t CharStartBefore(std::string_view text, size_t pos) {
  size_t start = pos - 1;
  while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

// Start of the whitespace run that ends at `pos`.
size_t WhitespaceRunStart(std::string_view text, size_t pos) {
  while (pos > 0) {
    const size_t start = CharStartBefore(text, pos);
    if (!IsWhitespace(DecodeCodePoint(text.substr(start, pos - start)))) break;
    pos = start;
  }
  return pos;
}

// End of the whitespace run that starts at `pos`.
size_t WhitespaceRunEnd(std::string_view text, size_t pos) {
  while (pos < text.size()) {
    const size_t length = Utf8CharLength(text.substr(pos));
    if (!IsWhitespace(DecodeCodePoint(text.substr(pos, length)))) break;
    pos += length;
  }
  return pos;
}

}  // namespace

absl::StatusOr<AddedTokenMatcher> AddedTokenMatcher::Create(std::vector<AddedToken> tokens) {
  // Rust's char::is_alphanumeric: Alphabetic or Numeric.
  DS_ASSIGN_OR_RETURN(Regex word_character,
                      Regex::Compile(R"([\p{Alphabetic}\p{N}])", /*literal=*/false));
  return AddedTokenMatcher(std::move(tokens), std::move(word_character));
}

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, Regex word_character)
    : tokens_(std::move(tokens)), word_character_(std::move(word_character)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (!tokens_[i].content.empty()) by_first_byte_[tokens_[i].content[0]].push_back(i);
  }
  for (auto& [first_byte, candidates] : by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [this](size_t a, size_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

const AddedToken* AddedTokenMatcher::LongestMatchAt(std::string_view text, size_t pos) const {
  const auto it = by_first_byte_.find(text[pos]);
  if (it == by_first_byte_.end()) return nullptr;
  for (const size_t index : it->second) {
    const AddedToken& token = tokens_[index];
    if (text.compare(pos, token.content.size(), token.content) == 0) return &token;
  }
  return nullptr;
}

bool AddedTokenMatcher::IsWordCharacterBefore(std::string_view text, size_t pos) const {
  if (pos == 0) return false;
  const size_t start = CharStartBefore(text, pos);
  const auto matches = word_character_.FindAll(text.substr(start, pos - start));
  return matches.ok() && !matches->empty();
}

bool AddedTokenMatcher::IsWordCharacterAt(std::string_view text, size_t pos) const {
  if (pos == text.size()) return false;
  const auto matches = word_character_.FindAll(text.substr(pos, Utf8CharLength(text.substr(pos))));
  return matches.ok() && !matches->empty();
}

std::vector<TextSegment> AddedTokenMatcher::Split(std::string_view text) const {
  std::vector<TextSegment> segments;
  size_t plain_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* token = LongestMatchAt(text, pos);
    if (token == nullptr) {
      ++pos;
      continue;
    }
    size_t begin = pos;
    size_t end = pos + token->content.size();
    pos = end;
    if (token->single_word && (IsWordCharacterBefore(text, begin) || IsWordCharacterAt(text, end))) {
      continue;
    }
    // Whitespace an earlier token already took stays with it.
    if (token->lstrip) begin = std::max(WhitespaceRunStart(text, begin), plain_start);
    if (token->rstrip) end = WhitespaceRunEnd(text, end);
    if (begin > plain_start) segments.push_back({text.substr(plain_start, begin - plain_start), {}});
    segments.push_back({text.substr(begin, end - begin), token->id});
    plain_start = end;
    pos = end;
  }
  if (plain_start < text.size()) segments.push_back({text.substr(plain_start), {}});
  return segments;
}

}  // namespace deltaserve::tokenization
