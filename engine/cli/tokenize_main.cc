// deltaserve-tokenize: JSON lines in, JSON lines out, through a model's tokenizer.json.
// Encode: each input line is a JSON string, each output line the JSON array of its ids.
// --decode: each input line is a JSON array of ids, each output line the JSON string.

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/command_line.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, tokenizer, "", "directory with tokenizer.json and optionally tokenizer_config.json");
ABSL_FLAG(bool, no_special, false, "encode without the BOS/EOS the tokenizer adds");
ABSL_FLAG(bool, decode, false, "read JSON arrays of ids and print JSON strings (special tokens kept)");

namespace deltaserve {
namespace {

// Parsing a line is the only place nlohmann can throw; it becomes a status naming the line.
absl::StatusOr<nlohmann::json> ParseLine(const std::string& line, int64_t line_number) {
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line_number, ": not valid JSON: ", error.what()));
  }
}

absl::StatusOr<std::string> EncodeLine(const Tokenizer& tokenizer, const nlohmann::json& input,
                                       int64_t line_number) {
  if (!input.is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line_number, ": expected a JSON string, got ", input.type_name()));
  }
  auto ids = tokenizer.Encode(input.get<std::string>(), !absl::GetFlag(FLAGS_no_special));
  if (!ids.ok()) return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", ids.status().message()));
  return nlohmann::json(*ids).dump();
}

absl::StatusOr<std::string> DecodeLine(const Tokenizer& tokenizer, const nlohmann::json& input,
                                       int64_t line_number) {
  std::vector<int32_t> ids;
  const bool all_ids = input.is_array() && std::all_of(input.begin(), input.end(), [](const auto& id) {
                         return id.is_number_integer() && id.template get<int64_t>() >= INT32_MIN &&
                                id.template get<int64_t>() <= INT32_MAX;
                       });
  if (!all_ids) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line_number, ": expected a JSON array of token ids"));
  }
  for (const auto& id : input) ids.push_back(id.get<int32_t>());
  auto text = tokenizer.Decode(ids, /*skip_special_tokens=*/false);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", text.status().message()));
  // Decoded text is valid UTF-8 by construction (U+FFFD stands in for bad bytes).
  return nlohmann::json(*text).dump();
}

absl::Status Run() {
  const std::string dir = absl::GetFlag(FLAGS_tokenizer);
  if (dir.empty()) return absl::InvalidArgumentError("--tokenizer DIR is required");
  DS_ASSIGN_OR_RETURN(const std::unique_ptr<Tokenizer> tokenizer, Tokenizer::Load(dir));
  const bool decode = absl::GetFlag(FLAGS_decode);
  std::string line;
  for (int64_t line_number = 1; std::getline(std::cin, line); ++line_number) {
    DS_ASSIGN_OR_RETURN(const nlohmann::json input, ParseLine(line, line_number));
    DS_ASSIGN_OR_RETURN(const std::string output, decode ? DecodeLine(*tokenizer, input, line_number)
                                                         : EncodeLine(*tokenizer, input, line_number));
    std::cout << output << '\n';
  }
  std::cout.flush();
  return absl::OkStatus();
}

}  // namespace
}  // namespace deltaserve

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "deltaserve-tokenize --tokenizer DIR [--no-special] [--decode] < lines.jsonl");
  deltaserve::ParseDashedCommandLine(argc, argv);
  const absl::Status status = deltaserve::Run();
  if (!status.ok()) {
    std::cerr << "deltaserve-tokenize: " << status.message() << '\n';
    return 1;
  }
  return 0;
}
