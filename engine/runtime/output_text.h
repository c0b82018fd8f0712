#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"

namespace deltaserve {

// A sequence's output text, built token by token: detokenizes incrementally, finds
// stop strings (also when one spans several tokens), cuts the text before the stop
// string, and holds back the tail that could still become one, so streamed text never
// has to be taken back. Without a tokenizer there is no text and no stop strings.
class OutputText {
 public:
  OutputText(const Tokenizer* tokenizer, std::vector<std::string> stop_strings);

  struct Update {
    std::string text;  // newly released text
    bool stopped = false;
  };
  absl::StatusOr<Update> Append(int32_t token);
  // Releases what was held back; call once the sequence has finished for another reason.
  absl::StatusOr<std::string> Finish();

  const std::string& text() const { return text_; }

 private:
  // Appends decoded text, truncating at the earliest stop string; true if one matched.
  bool AddPiece(const std::string& piece);
  std::string Release(size_t end);

  std::optional<IncrementalDetokenizer> detokenizer_;
  std::vector<std::string> stop_strings_;
  size_t hold_back_ = 0;
  std::string text_;
  size_t released_ = 0;
};

}  // namespace deltaserve
