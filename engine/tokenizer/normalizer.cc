#include "engine/tokenizer/normalizer.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/regex.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  absl::StatusOr<std::string> Normalize(std::string text) const override {
    // Hugging Face leaves empty text empty, so "<s>" alone gains no "▁".
    if (text.empty()) return text;
    return prefix_ + text;
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(Regex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  absl::StatusOr<std::string> Normalize(std::string text) const override {
    return ReplaceAll(pattern_, text, content_);
  }

 private:
  Regex pattern_;
  std::string content_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  absl::StatusOr<std::string> Normalize(std::string text) const override {
    for (const auto& step : steps_) {
      DS_ASSIGN_OR_RETURN(text, step->Normalize(std::move(text)));
    }
    return text;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const JsonField& normalizer) {
  DS_ASSIGN_OR_RETURN(const JsonField type_field, normalizer.Get("type"));
  DS_ASSIGN_OR_RETURN(const std::string type, type_field.String());
  if (type == "Prepend") {
    DS_ASSIGN_OR_RETURN(const JsonField prepend, normalizer.Get("prepend"));
    DS_ASSIGN_OR_RETURN(std::string prefix, prepend.String());
    return std::make_unique<PrependNormalizer>(std::move(prefix));
  }
  if (type == "Replace") {
    DS_ASSIGN_OR_RETURN(const JsonField pattern_field, normalizer.Get("pattern"));
    DS_ASSIGN_OR_RETURN(Regex pattern, ParsePattern(pattern_field));
    DS_ASSIGN_OR_RETURN(const JsonField content_field, normalizer.Get("content"));
    DS_ASSIGN_OR_RETURN(std::string content, content_field.String());
    return std::make_unique<ReplaceNormalizer>(std::move(pattern), std::move(content));
  }
  if (type == "Sequence") {
    DS_ASSIGN_OR_RETURN(const JsonField list, normalizer.Get("normalizers"));
    DS_ASSIGN_OR_RETURN(const std::vector<JsonField> elements, list.Elements());
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const JsonField& element : elements) {
      DS_ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> step, ParseNormalizer(element));
      steps.push_back(std::move(step));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  return type_field.Error(absl::StrCat("normalizer type \"", type,
                                       "\" is not supported (supported: Prepend, Replace, Sequence)"));
}

}  // namespace deltaserve::tokenization
