#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/tokenizer/json_field.h"

namespace deltaserve::tokenization {

// tokenizer.json "normalizer": rewrites each stretch of text between added tokens.
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual absl::StatusOr<std::string> Normalize(std::string text) const = 0;
};

// Prepend, Replace and Sequence of them: what the SentencePiece-style Llama files use.
absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const JsonField& normalizer);

}  // namespace deltaserve::tokenization
