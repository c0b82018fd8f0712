#include "engine/tokenizer/utf8.h"

#include <cstdint>

namespace deltaserve::tokenization {
namespace {

// Length of the sequence a lead byte announces, 0 for a byte that cannot start one.
size_t SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The second byte's range is narrower than 80..BF for some leads: it rules out overlong
// forms, surrogates and code points above U+10FFFF (Unicode Table 3-7).
bool IsValidContinuation(uint8_t lead, size_t index, uint8_t byte) {
  if (index == 1) {
    if (lead == 0xE0) return byte >= 0xA0 && byte <= 0xBF;
    if (lead == 0xED) return byte >= 0x80 && byte <= 0x9F;
    if (lead == 0xF0) return byte >= 0x90 && byte <= 0xBF;
    if (lead == 0xF4) return byte >= 0x80 && byte <= 0x8F;
  }
  return byte >= 0x80 && byte <= 0xBF;
}

enum class Scan { kComplete, kInvalid, kTruncated };

// Classifies the sequence at text[0]; `length` is its length when complete, or how many
// bytes form the maximal valid prefix otherwise.
Scan ScanSequence(std::string_view text, size_t* length) {
  const auto lead = static_cast<uint8_t>(text[0]);
  const size_t expected = SequenceLength(lead);
  if (expected == 0) {
    *length = 1;
    return Scan::kInvalid;
  }
  for (size_t i = 1; i < expected; ++i) {
    if (i == text.size()) {
      *length = i;
      return Scan::kTruncated;
    }
    if (!IsValidContinuation(lead, i, static_cast<uint8_t>(text[i]))) {
      *length = i;
      return Scan::kInvalid;
    }
  }
  *length = expected;
  return Scan::kComplete;
}

}  // namespace

size_t FindInvalidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    if (ScanSequence(text.substr(pos), &length) != Scan::kComplete) return pos;
    pos += length;
  }
  return std::string_view::npos;
}

std::string EncodeUtf8(char32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

size_t Utf8CharLength(std::string_view text) {
  size_t length = 0;
  ScanSequence(text, &length);
  return length;
}

std::string Utf8StreamDecoder::Push(std::string_view bytes) {
  pending_.append(bytes.data(), bytes.size());
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    size_t length = 0;
    const Scan scan = ScanSequence(std::string_view(pending_).substr(pos), &length);
    if (scan == Scan::kTruncated) break;
    if (scan == Scan::kComplete) {
      out.append(pending_, pos, length);
    } else {
      out += kReplacementCharacter;
    }
    pos += length;
  }
  pending_.erase(0, pos);
  return out;
}

std::string Utf8StreamDecoder::Flush() {
  // Only a truncated sequence can be pending, and it is one maximal valid prefix.
  std::string out = pending_.empty() ? "" : std::string(kReplacementCharacter);
  pending_.clear();
  return out;
}

}  // namespace deltaserve::tokenization
