#include "engine/util/command_line.h"

#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace deltaserve {
namespace {

bool IsFlag(const std::string& arg) { return arg.size() >= 2 && arg[0] == '-' && arg != "--"; }

// "--max-tokens=5" -> "max_tokens"
std::string FlagName(const std::string& arg) {
  const size_t name_begin = arg[1] == '-' ? 2 : 1;
  std::string name = arg.substr(name_begin, std::min(arg.find('='), arg.size()) - name_begin);
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

}  // namespace

ParsedCommandLine ParseDashedCommandLine(int argc, char** argv) {
  ParsedCommandLine parsed;
  std::vector<std::string> rewritten;
  rewritten.reserve(argc);
  bool after_terminator = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && !after_terminator && IsFlag(arg)) {
      const std::string name = FlagName(arg);
      parsed.given.insert(name);
      arg = (arg[1] == '-' ? "--" : "-") + name + arg.substr(std::min(arg.find('='), arg.size()));
    }
    after_terminator |= i > 0 && arg == "--";
    rewritten.push_back(std::move(arg));
  }
  std::vector<char*> pointers;
  for (std::string& arg : rewritten) pointers.push_back(arg.data());
  for (char* positional : absl::ParseCommandLine(static_cast<int>(pointers.size()), pointers.data())) {
    parsed.positional.emplace_back(positional);
  }
  return parsed;
}

absl::StatusOr<std::vector<int64_t>> ParseIntegerList(const std::string& text, const std::string& flag,
                                                      const std::string& element_name) {
  std::vector<int64_t> values;
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(piece, &value)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": '", piece, "' is not a ", element_name));
    }
    values.push_back(value);
  }
  return values;
}

}  // namespace deltaserve
