#include "engine/tokenizer/tokenizer.h"

#include "absl/status/status.h"
#include "engine/util/status_macros.h"

namespace deltaserve {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : stream_(tokenizer.NewDecodeStream(skip_special_tokens)) {}

absl::StatusOr<std::string> IncrementalDetokenizer::Push(int32_t id) {
  if (stream_ == nullptr) return absl::FailedPreconditionError("Push after Flush");
  return stream_->Push(id);
}

absl::StatusOr<std::string> IncrementalDetokenizer::Flush() {
  if (stream_ == nullptr) return absl::FailedPreconditionError("Flush called twice");
  DS_ASSIGN_OR_RETURN(std::string rest, stream_->Flush());
  stream_.reset();
  return rest;
}

}  // namespace deltaserve
