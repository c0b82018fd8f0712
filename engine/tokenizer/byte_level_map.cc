#include "engine/tokenizer/byte_level_map.h"

#include <array>
#include <cstdint>
#include <unordered_map>

#include "engine/tokenizer/utf8.h"

namespace deltaserve::tokenization {
namespace {

bool StandsForItself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

struct ByteLevelMap {
  std::array<std::string, 256> byte_to_text;
  std::unordered_map<std::string, char> text_to_byte;

  ByteLevelMap() {
    char32_t next_unused = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const char32_t code_point = StandsForItself(byte) ? byte : next_unused++;
      byte_to_text[byte] = EncodeUtf8(code_point);
      text_to_byte.emplace(byte_to_text[byte], static_cast<char>(byte));
    }
  }
};

const ByteLevelMap& Map() {
  static const ByteLevelMap* const map = new ByteLevelMap();
  return *map;
}

}  // namespace

std::string BytesToByteLevel(std::string_view bytes) {
  const ByteLevelMap& map = Map();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char byte : bytes) out += map.byte_to_text[static_cast<uint8_t>(byte)];
  return out;
}

std::optional<std::string> ByteLevelToBytes(std::string_view token) {
  const ByteLevelMap& map = Map();
  std::string bytes;
  for (size_t pos = 0; pos < token.size();) {
    const size_t length = Utf8CharLength(token.substr(pos));
    const auto it = map.text_to_byte.find(std::string(token.substr(pos, length)));
    if (it == map.text_to_byte.end()) return std::nullopt;
    bytes += it->second;
    pos += length;
  }
  return bytes;
}

}  // namespace deltaserve::tokenization
