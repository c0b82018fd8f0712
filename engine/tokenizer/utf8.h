#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace deltaserve::tokenization {

// Byte offset of the first byte that is not part of well-formed UTF-8, or npos.
size_t FindInvalidUtf8(std::string_view text);

// The bytes of one code point. Code points must be valid scalar values.
std::string EncodeUtf8(char32_t code_point);

// Length in bytes of the character starting at text[0] (1 for an invalid lead byte).
size_t Utf8CharLength(std::string_view text);

// Bytes in, text out, replacing ill-formed sequences with U+FFFD the way Rust's
// String::from_utf8_lossy (and so Hugging Face `tokenizers`) does: one U+FFFD per
// maximal prefix of a valid sequence. Bytes that may still become a character are held
// back until the next Push, or replaced by Flush.
class Utf8StreamDecoder {
 public:
  std::string Push(std::string_view bytes);
  std::string Flush();

 private:
  std::string pending_;
};

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

}  // namespace deltaserve::tokenization
