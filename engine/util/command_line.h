#pragma once

#include <set>
#include <string>
#include <vector>

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

}  // namespace deltaserve
