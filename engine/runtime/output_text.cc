#include "engine/runtime/output_text.h"

#include <algorithm>
#include <utility>

#include "engine/util/status_macros.h"

namespace deltaserve {

OutputText::OutputText(const Tokenizer* tokenizer, std::vector<std::string> stop_strings)
{
  if (tokenizer != nullptr) detokenizer_.emplace(*tokenizer, /*skip_special_tokens=*/true);
  for (std::string& stop : stop_strings) {
    if (stop.empty()) continue;  // matches everywhere; validation rejects it before here
    hold_back_ = std::max(hold_back_, stop.size() - 1);
    stop_strings_.push_back(std::move(stop));
  }
}

bool OutputText::AddPiece(const std::string& piece) {
  const size_t previous = text_.size();
  text_ += piece;
  size_t match = std::string::npos;
  for (const std::string& stop : stop_strings_) {
    const size_t from = previous >= stop.size() - 1 ? previous - (stop.size() - 1) : 0;
    match = std::min(match, text_.find(stop, from));
  }
  if (match == std::string::npos) return false;
  text_.resize(match);
  return true;
}

std::string OutputText::Release(size_t end) {
  // Never split a UTF-8 character between two releases.
  while (end > released_ && end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) --end;
  std::string out = text_.substr(released_, end - released_);
  released_ = end;
  return out;
}

absl::StatusOr<OutputText::Update> OutputText::Append(int32_t token) {
  Update update;
  if (!detokenizer_) return update;
  DS_ASSIGN_OR_RETURN(std::string piece, detokenizer_->Push(token));
  update.stopped = AddPiece(piece);
  const size_t safe_end = update.stopped ? text_.size() : text_.size() - std::min(hold_back_, text_.size());
  update.text = Release(std::max(safe_end, released_));
  return update;
}

absl::StatusOr<std::string> OutputText::Finish() {
  if (!detokenizer_) return std::string();
  DS_ASSIGN_OR_RETURN(std::string piece, detokenizer_->Flush());
  AddPiece(piece);
  return Release(text_.size());
}

}  // namespace deltaserve
