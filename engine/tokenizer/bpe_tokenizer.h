#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/added_tokens.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/decoder.h"
#include "engine/tokenizer/json_field.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/special_tokens.h"
#include "engine/tokenizer/tokenizer.h"

namespace deltaserve::tokenization {

// A tokenizer.json with a BPE model: added tokens, normalizer, pre-tokenizer, BPE,
// post-processor on the way in; the decoder on the way out.
class BpeTokenizer final : public Tokenizer {
 public:
  // `tokenizer` is the root of tokenizer.json; `config` of tokenizer_config.json.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Parse(const JsonField& tokenizer,
                                                             const std::optional<JsonField>& config);

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              bool add_special_tokens) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special_tokens) const override;
  std::unique_ptr<DecodeStream> NewDecodeStream(bool skip_special_tokens) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  bool IsSpecial(int32_t id) const override;
  std::optional<int32_t> bos_id() const override { return special_tokens_.bos_id; }
  std::optional<int32_t> eos_id() const override { return special_tokens_.eos_id; }

  // The text of a token as the decoder receives it, or an error naming the id.
  absl::StatusOr<std::string_view> TokenText(int32_t id) const;
  const Decoder& decoder() const { return *decoder_; }

 private:
  BpeTokenizer() = default;
  // Text between added tokens: normalize, find normalized added tokens, pre-tokenize, BPE.
  absl::Status EncodePlainText(std::string_view text, bool at_text_start,
                               std::vector<int32_t>* ids) const;
  std::optional<int32_t> IdOf(std::string_view token) const;

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Decoder> decoder_;
  std::optional<AddedTokenMatcher> raw_added_tokens_;
  std::optional<AddedTokenMatcher> normalized_added_tokens_;
  std::unordered_map<int32_t, AddedToken> added_tokens_by_id_;
  SpecialTokenPlan special_tokens_;
  int64_t vocab_size_ = 0;
};

}  // namespace deltaserve::tokenization
