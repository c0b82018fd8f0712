#include "engine/tokenizer/pre_tokenizer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/byte_level_map.h"
#include "engine/tokenizer/regex.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

enum class DelimiterBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };

struct Span {
  size_t begin;
  size_t end;
  bool is_delimiter;
};

// The matches and the text between them, in order, as Hugging Face's find_matches.
absl::StatusOr<std::vector<Span>> SplitAtMatches(const Regex& pattern, std::string_view text,
                                                 bool invert) {
  DS_ASSIGN_OR_RETURN(const auto matches, pattern.FindAll(text));
  std::vector<Span> spans;
  size_t covered = 0;
  for (const auto& [begin, end] : matches) {
    if (begin > covered) spans.push_back({covered, begin, invert});
    spans.push_back({begin, end, !invert});
    covered = end;
  }
  if (covered < text.size()) spans.push_back({covered, text.size(), invert});
  return spans;
}

// Hugging Face's SplitDelimiterBehavior, including how runs of delimiters merge.
std::vector<Span> ApplyBehavior(std::vector<Span> spans, DelimiterBehavior behavior) {
  std::vector<Span> out;
  switch (behavior) {
    case DelimiterBehavior::kIsolated:
      return spans;
    case DelimiterBehavior::kRemoved:
      for (const Span& span : spans) {
        if (!span.is_delimiter) out.push_back(span);
      }
      return out;
    case DelimiterBehavior::kMergedWithPrevious: {
      bool previous_was_delimiter = false;
      for (const Span& span : spans) {
        if (span.is_delimiter && !previous_was_delimiter && !out.empty()) {
          out.back().end = span.end;
        } else {
          out.push_back(span);
        }
        previous_was_delimiter = span.is_delimiter;
      }
      return out;
    }
    case DelimiterBehavior::kMergedWithNext: {
      bool next_was_delimiter = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_delimiter && !next_was_delimiter && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        next_was_delimiter = it->is_delimiter;
      }
      return std::vector<Span>(out.rbegin(), out.rend());
    }
  }
  return spans;
}

std::vector<std::string> SpanTexts(std::string_view text, const std::vector<Span>& spans) {
  std::vector<std::string> words;
  words.reserve(spans.size());
  for (const Span& span : spans) words.emplace_back(text.substr(span.begin, span.end - span.begin));
  return words;
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex pattern, DelimiterBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  absl::StatusOr<std::vector<std::string>> Split(std::string_view text, bool) const override {
    DS_ASSIGN_OR_RETURN(std::vector<Span> spans, SplitAtMatches(pattern_, text, invert_));
    return SpanTexts(text, ApplyBehavior(std::move(spans), behavior_));
  }

 private:
  Regex pattern_;
  DelimiterBehavior behavior_;
  bool invert_;
};

// GPT-2's pattern, which ByteLevel applies when use_regex is on.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::optional<Regex> words)
      : add_prefix_space_(add_prefix_space), words_(std::move(words)) {}

  absl::StatusOr<std::vector<std::string>> Split(std::string_view text, bool) const override {
    std::string prefixed;
    if (add_prefix_space_ && (text.empty() || text[0] != ' ')) {
      prefixed = absl::StrCat(" ", std::string(text));
      text = prefixed;
    }
    std::vector<std::string> words;
    if (words_.has_value()) {
      DS_ASSIGN_OR_RETURN(const std::vector<Span> spans, SplitAtMatches(*words_, text, false));
      words = SpanTexts(text, spans);
    } else {
      words.emplace_back(text);
    }
    for (std::string& word : words) word = BytesToByteLevel(word);
    return words;
  }

 private:
  bool add_prefix_space_;
  std::optional<Regex> words_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, Regex replacement_pattern, PrependScheme scheme,
                        bool split)
      : replacement_(std::move(replacement)),
        replacement_pattern_(std::move(replacement_pattern)),
        scheme_(scheme),
        split_(split) {}

  absl::StatusOr<std::vector<std::string>> Split(std::string_view text,
                                                 bool at_text_start) const override {
    std::string replaced;
    for (const char c : text) {
      if (c == ' ') {
        replaced += replacement_;
      } else {
        replaced += c;
      }
    }
    const bool starts_with_replacement = replaced.rfind(replacement_, 0) == 0;
    const bool prepend = !starts_with_replacement &&
                         (scheme_ == PrependScheme::kAlways ||
                          (scheme_ == PrependScheme::kFirst && at_text_start));
    if (prepend) replaced.insert(0, replacement_);
    if (!split_) return std::vector<std::string>{replaced};
    DS_ASSIGN_OR_RETURN(std::vector<Span> spans,
                        SplitAtMatches(replacement_pattern_, replaced, false));
    return SpanTexts(replaced, ApplyBehavior(std::move(spans), DelimiterBehavior::kMergedWithNext));
  }

 private:
  std::string replacement_;
  Regex replacement_pattern_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}

  absl::StatusOr<std::vector<std::string>> Split(std::string_view text,
                                                 bool at_text_start) const override {
    std::vector<std::string> words{std::string(text)};
    for (const auto& step : steps_) {
      std::vector<std::string> next;
      for (size_t i = 0; i < words.size(); ++i) {
        DS_ASSIGN_OR_RETURN(std::vector<std::string> pieces,
                            step->Split(words[i], at_text_start && i == 0));
        for (std::string& piece : pieces) next.push_back(std::move(piece));
      }
      words = std::move(next);
    }
    return words;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

absl::StatusOr<DelimiterBehavior> ParseBehavior(const JsonField& field) {
  DS_ASSIGN_OR_RETURN(const std::string name, field.String());
  if (name == "Isolated") return DelimiterBehavior::kIsolated;
  if (name == "Removed") return DelimiterBehavior::kRemoved;
  if (name == "MergedWithPrevious") return DelimiterBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return DelimiterBehavior::kMergedWithNext;
  return field.Error(absl::StrCat("split behavior \"", name,
                                  "\" is not supported (supported: Isolated, Removed, "
                                  "MergedWithPrevious, MergedWithNext)"));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParseSplit(const JsonField& split) {
  DS_ASSIGN_OR_RETURN(const JsonField pattern_field, split.Get("pattern"));
  DS_ASSIGN_OR_RETURN(Regex pattern, ParsePattern(pattern_field));
  DS_ASSIGN_OR_RETURN(const JsonField behavior_field, split.Get("behavior"));
  DS_ASSIGN_OR_RETURN(const DelimiterBehavior behavior, ParseBehavior(behavior_field));
  DS_ASSIGN_OR_RETURN(const bool invert, split.BoolOr("invert", false));
  return std::make_unique<SplitPreTokenizer>(std::move(pattern), behavior, invert);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParseByteLevel(const JsonField& byte_level) {
  DS_ASSIGN_OR_RETURN(const bool add_prefix_space, byte_level.BoolOr("add_prefix_space", true));
  DS_ASSIGN_OR_RETURN(const bool use_regex, byte_level.BoolOr("use_regex", true));
  std::optional<Regex> words;
  if (use_regex) {
    DS_ASSIGN_OR_RETURN(words, Regex::Compile(kGpt2Pattern, /*literal=*/false));
  }
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, std::move(words));
}

absl::StatusOr<PrependScheme> ParsePrependScheme(const JsonField& metaspace) {
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> scheme_field, metaspace.Find("prepend_scheme"));
  if (!scheme_field.has_value()) {
    // Files written before prepend_scheme existed say add_prefix_space instead.
    DS_ASSIGN_OR_RETURN(const bool add_prefix_space, metaspace.BoolOr("add_prefix_space", true));
    return add_prefix_space ? PrependScheme::kAlways : PrependScheme::kNever;
  }
  DS_ASSIGN_OR_RETURN(const std::string scheme, scheme_field->String());
  if (scheme == "always") return PrependScheme::kAlways;
  if (scheme == "first") return PrependScheme::kFirst;
  if (scheme == "never") return PrependScheme::kNever;
  return scheme_field->Error(
      absl::StrCat("prepend_scheme \"", scheme, "\" is not one of always, first, never"));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParseMetaspace(const JsonField& metaspace) {
  DS_ASSIGN_OR_RETURN(const JsonField replacement_field, metaspace.Get("replacement"));
  DS_ASSIGN_OR_RETURN(std::string replacement, replacement_field.String());
  if (replacement.empty()) return replacement_field.Error("must not be empty");
  DS_ASSIGN_OR_RETURN(Regex replacement_pattern,
                      Regex::Compile(replacement, /*literal=*/true));
  DS_ASSIGN_OR_RETURN(const PrependScheme scheme, ParsePrependScheme(metaspace));
  DS_ASSIGN_OR_RETURN(const bool split, metaspace.BoolOr("split", true));
  return std::make_unique<MetaspacePreTokenizer>(std::move(replacement),
                                                 std::move(replacement_pattern), scheme, split);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const JsonField& pre_tokenizer) {
  DS_ASSIGN_OR_RETURN(const JsonField type_field, pre_tokenizer.Get("type"));
  DS_ASSIGN_OR_RETURN(const std::string type, type_field.String());
  if (type == "Split") return ParseSplit(pre_tokenizer);
  if (type == "ByteLevel") return ParseByteLevel(pre_tokenizer);
  if (type == "Metaspace") return ParseMetaspace(pre_tokenizer);
  if (type == "Sequence") {
    DS_ASSIGN_OR_RETURN(const JsonField list, pre_tokenizer.Get("pretokenizers"));
    DS_ASSIGN_OR_RETURN(const std::vector<JsonField> elements, list.Elements());
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const JsonField& element : elements) {
      DS_ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> step, ParsePreTokenizer(element));
      steps.push_back(std::move(step));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  return type_field.Error(absl::StrCat(
      "pre_tokenizer type \"", type,
      "\" is not supported (supported: Split, ByteLevel, Metaspace, Sequence)"));
}

}  // namespace deltaserve::tokenization
