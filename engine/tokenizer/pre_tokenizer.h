#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/json_field.h"

namespace deltaserve::tokenization {

// tokenizer.json "pre_tokenizer": cuts normalized text into the words BPE sees one at
// a time (and, for ByteLevel, rewrites their bytes as GPT-2 characters).
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // `at_text_start`: the text begins the input rather than following an added token
  // (Metaspace's prepend_scheme "first" asks).
  virtual absl::StatusOr<std::vector<std::string>> Split(std::string_view text,
                                                         bool at_text_start) const = 0;
};

// Split (regex or string, every delimiter behaviour but Contiguous), ByteLevel,
// Metaspace and Sequence of them.
absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const JsonField& pre_tokenizer);

}  // namespace deltaserve::tokenization
