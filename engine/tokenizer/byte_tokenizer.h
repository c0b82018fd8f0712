#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "engine/tokenizer/tokenizer.h"

namespace deltaserve::tokenization {

// Tokenizer::ByteLevel: ids 0..255 are bytes, for models that come without tokenizer
// files. The BOS/EOS ids are special tokens without text, even where they fall below
// 256.
class ByteTokenizer final : public Tokenizer {
 public:
  ByteTokenizer(int64_t vocab_size, std::optional<int32_t> bos_id, std::optional<int32_t> eos_id)
      : vocab_size_(vocab_size), bos_id_(bos_id), eos_id_(eos_id) {}

  // add_special_tokens puts the BOS (if any) in front, as Llama tokenizers do.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              bool add_special_tokens) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special_tokens) const override;
  std::unique_ptr<DecodeStream> NewDecodeStream(bool skip_special_tokens) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  bool IsSpecial(int32_t id) const override { return id == bos_id_ || id == eos_id_; }
  std::optional<int32_t> bos_id() const override { return bos_id_; }
  std::optional<int32_t> eos_id() const override { return eos_id_; }

 private:
  int64_t vocab_size_;
  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
};

}  // namespace deltaserve::tokenization
