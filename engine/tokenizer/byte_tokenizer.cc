#include "engine/tokenizer/byte_tokenizer.h"

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

class ByteDecodeStream : public DecodeStream {
 public:
  explicit ByteDecodeStream(const ByteTokenizer& tokenizer) : tokenizer_(tokenizer) {}

  absl::StatusOr<std::string> Push(int32_t id) override {
    if (id < 0 || id >= tokenizer_.vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " is not in the vocabulary (size ",
                                                     tokenizer_.vocab_size(), ")"));
    }
    if (id > 255 || tokenizer_.IsSpecial(id)) return std::string();
    return utf8_.Push(std::string(1, static_cast<char>(id)));
  }

  absl::StatusOr<std::string> Flush() override { return utf8_.Flush(); }

 private:
  const ByteTokenizer& tokenizer_;
  Utf8StreamDecoder utf8_;
};

}  // namespace

absl::StatusOr<std::vector<int32_t>> ByteTokenizer::Encode(std::string_view text,
                                                           bool add_special_tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() + 1);
  if (add_special_tokens && bos_id_.has_value()) ids.push_back(*bos_id_);
  for (const char c : text) {
    const auto byte = static_cast<uint8_t>(c);
    if (byte >= vocab_size_) {
      return absl::InvalidArgumentError(absl::StrCat("byte 0x", absl::Hex(byte),
                                                     " has no id: the byte-level vocabulary has size ",
                                                     vocab_size_));
    }
    ids.push_back(byte);
  }
  return ids;
}

absl::StatusOr<std::string> ByteTokenizer::Decode(absl::Span<const int32_t> ids,
                                                  bool skip_special_tokens) const {
  const std::unique_ptr<DecodeStream> stream = NewDecodeStream(skip_special_tokens);
  std::string text;
  for (const int32_t id : ids) {
    DS_ASSIGN_OR_RETURN(const std::string piece, stream->Push(id));
    text += piece;
  }
  DS_ASSIGN_OR_RETURN(const std::string rest, stream->Flush());
  return text + rest;
}

// Special tokens have no text here, so skipping them changes nothing.
std::unique_ptr<DecodeStream> ByteTokenizer::NewDecodeStream(bool) const {
  return std::make_unique<ByteDecodeStream>(*this);
}

}  // namespace deltaserve::tokenization
