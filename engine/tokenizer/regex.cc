#include "engine/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

std::string Pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

absl::StatusOr<Regex> Regex::Compile(std::string_view pattern, bool literal) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // PCRE2 refuses UCP with LITERAL, and a literal needs no character classes anyway.
  const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot compile pattern \"", std::string(pattern),
                                                   "\" at offset ", error_offset, ": ",
                                                   Pcre2Message(error_code)));
  }
  // JIT is an optimization only: without it (unsupported CPU) matching still works.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return Regex(std::shared_ptr<pcre2_real_code_8>(code, pcre2_code_free),
               literal && !pattern.empty() ? std::optional<std::string>(pattern) : std::nullopt);
}

absl::StatusOr<std::vector<std::pair<size_t, size_t>>> Regex::FindAll(
    std::string_view text) const {
  if (literal_.has_value()) {
    std::vector<std::pair<size_t, size_t>> matches;
    for (size_t begin = text.find(*literal_); begin != std::string_view::npos;
         begin = text.find(*literal_, begin + literal_->size())) {
      matches.emplace_back(begin, begin + literal_->size());
    }
    return matches;
  }
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_data(
      pcre2_match_data_create_from_pattern(code_.get(), nullptr), pcre2_match_data_free);
  std::vector<std::pair<size_t, size_t>> matches;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start < text.size()) {
    const int rc = pcre2_match(code_.get(), subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                               match_data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      return absl::InternalError(absl::StrCat("regex match failed at byte ", start, ": ",
                                              Pcre2Message(rc)));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      start = end;
    } else {
      start = begin + Utf8CharLength(text.substr(begin));
    }
  }
  return matches;
}

absl::StatusOr<Regex> ParsePattern(const JsonField& pattern) {
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> literal, pattern.Find("String"));
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> regex, pattern.Find("Regex"));
  if (literal.has_value() == regex.has_value()) {
    return pattern.Error("expected {\"String\": ...} or {\"Regex\": ...}");
  }
  const JsonField& field = literal.has_value() ? *literal : *regex;
  DS_ASSIGN_OR_RETURN(const std::string text, field.String());
  absl::StatusOr<Regex> compiled = Regex::Compile(text, literal.has_value());
  if (!compiled.ok()) return field.Error(std::string(compiled.status().message()));
  return compiled;
}

absl::StatusOr<std::string> ReplaceAll(const Regex& pattern, std::string_view text,
                                       std::string_view content) {
  auto matches = pattern.FindAll(text);
  if (!matches.ok()) return matches.status();
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  for (const auto& [begin, end] : *matches) {
    out.append(text.substr(copied, begin - copied));
    out.append(content);
    copied = end;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace deltaserve::tokenization
