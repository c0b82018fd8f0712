#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace deltaserve {

// Our command lines spell flags with dashes (--max-tokens, as vLLM and the issue's
// contracts do), while abseil flag names are C++ identifiers (max_tokens). Parses argv
// with absl::ParseCommandLine after turning every dash inside a flag's name into an
// underscore; values are left alone.
struct ParsedCommandLine {
  std::vector<std::string> positional;  // argv[0] first
  // Flag names (underscored) that appeared on the command line, so a flag whose value
  // may legitimately be empty (an empty prompt) can be told apart from an absent one.
  std::set<std::string> given;
};
ParsedCommandLine ParseDashedCommandLine(int argc, char** argv);

// "1, 2,3" -> {1, 2, 3}; an element that is not an integer is INVALID_ARGUMENT naming the
// flag and the element, e.g. "--dense-layers: 'x' is not a layer index".
absl::StatusOr<std::vector<int64_t>> ParseIntegerList(const std::string& text, const std::string& flag,
                                                      const std::string& element_name);

}  // namespace deltaserve
