#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace deltaserve::tokenization {

// GPT-2's reversible byte <-> character map: printable Latin-1 bytes stand for
// themselves, the others for U+0100 onwards, so that every byte string becomes text
// without whitespace or control characters.
std::string BytesToByteLevel(std::string_view bytes);

// The bytes a byte-level token stands for, or nullopt if one of its characters is not
// in the map (an added token written in plain text).
std::optional<std::string> ByteLevelToBytes(std::string_view token);

}  // namespace deltaserve::tokenization
