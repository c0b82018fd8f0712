#include "engine/tokenizer/bpe_tokenizer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

absl::StatusOr<std::vector<AddedToken>> ParseAddedTokens(const JsonField& tokenizer) {
  std::vector<AddedToken> tokens;
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> list, tokenizer.Find("added_tokens"));
  if (!list.has_value()) return tokens;
  DS_ASSIGN_OR_RETURN(const std::vector<JsonField> elements, list->Elements());
  for (const JsonField& element : elements) {
    AddedToken token;
    DS_ASSIGN_OR_RETURN(const JsonField id_field, element.Get("id"));
    DS_ASSIGN_OR_RETURN(const int64_t id, id_field.Int());
    if (id < 0 || id > INT32_MAX) return id_field.Error(absl::StrCat("id ", id, " is out of range"));
    token.id = static_cast<int32_t>(id);
    DS_ASSIGN_OR_RETURN(const JsonField content, element.Get("content"));
    DS_ASSIGN_OR_RETURN(token.content, content.String());
    if (token.content.empty()) return content.Error("must not be empty");
    DS_ASSIGN_OR_RETURN(token.special, element.BoolOr("special", false));
    DS_ASSIGN_OR_RETURN(token.lstrip, element.BoolOr("lstrip", false));
    DS_ASSIGN_OR_RETURN(token.rstrip, element.BoolOr("rstrip", false));
    DS_ASSIGN_OR_RETURN(token.single_word, element.BoolOr("single_word", false));
    // Hugging Face's default: special tokens are matched in the raw input.
    DS_ASSIGN_OR_RETURN(token.normalized, element.BoolOr("normalized", !token.special));
    tokens.push_back(std::move(token));
  }
  return tokens;
}

class BpeDecodeStream : public DecodeStream {
 public:
  BpeDecodeStream(const BpeTokenizer& tokenizer, bool skip_special_tokens)
      : tokenizer_(tokenizer),
        skip_special_tokens_(skip_special_tokens),
        step_(tokenizer.decoder().NewStep()) {}

  absl::StatusOr<std::string> Push(int32_t id) override {
    DS_ASSIGN_OR_RETURN(const std::string_view token, tokenizer_.TokenText(id));
    if (skip_special_tokens_ && tokenizer_.IsSpecial(id)) return std::string();
    std::vector<DecodeChunk> chunks;
    DS_RETURN_IF_ERROR(step_->Push({std::string(token), false}, &chunks));
    return Join(chunks);
  }

  absl::StatusOr<std::string> Flush() override {
    std::vector<DecodeChunk> chunks;
    DS_RETURN_IF_ERROR(step_->Flush(&chunks));
    return Join(chunks);
  }

 private:
  static std::string Join(const std::vector<DecodeChunk>& chunks) {
    std::string text;
    for (const DecodeChunk& chunk : chunks) text += chunk.text;
    return text;
  }

  const BpeTokenizer& tokenizer_;
  bool skip_special_tokens_;
  std::unique_ptr<DecodeStep> step_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Parse(
    const JsonField& tokenizer, const std::optional<JsonField>& config) {
  std::unique_ptr<BpeTokenizer> bpe(new BpeTokenizer());
  DS_ASSIGN_OR_RETURN(const JsonField model, tokenizer.Get("model"));
  DS_ASSIGN_OR_RETURN(bpe->model_, BpeModel::Parse(model));

  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> normalizer, tokenizer.Find("normalizer"));
  if (normalizer.has_value()) {
    DS_ASSIGN_OR_RETURN(bpe->normalizer_, ParseNormalizer(*normalizer));
  }
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> pre_tokenizer, tokenizer.Find("pre_tokenizer"));
  if (pre_tokenizer.has_value()) {
    DS_ASSIGN_OR_RETURN(bpe->pre_tokenizer_, ParsePreTokenizer(*pre_tokenizer));
  }
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> decoder, tokenizer.Find("decoder"));
  if (decoder.has_value()) {
    DS_ASSIGN_OR_RETURN(bpe->decoder_, ParseDecoder(*decoder));
  } else {
    bpe->decoder_ = JoinWithSpacesDecoder();
  }

  DS_ASSIGN_OR_RETURN(std::vector<AddedToken> added, ParseAddedTokens(tokenizer));
  std::vector<AddedToken> raw;
  std::vector<AddedToken> normalized;
  bpe->vocab_size_ = bpe->model_->id_limit();
  for (AddedToken& token : added) {
    bpe->vocab_size_ = std::max<int64_t>(bpe->vocab_size_, int64_t{token.id} + 1);
    bpe->added_tokens_by_id_[token.id] = token;
    if (token.normalized && bpe->normalizer_ != nullptr) {
      // Hugging Face looks for normalized tokens in normalized form.
      DS_ASSIGN_OR_RETURN(token.content, bpe->normalizer_->Normalize(token.content));
      normalized.push_back(std::move(token));
    } else {
      raw.push_back(std::move(token));
    }
  }
  DS_ASSIGN_OR_RETURN(bpe->raw_added_tokens_, AddedTokenMatcher::Create(std::move(raw)));
  DS_ASSIGN_OR_RETURN(bpe->normalized_added_tokens_,
                      AddedTokenMatcher::Create(std::move(normalized)));

  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> post_processor,
                      tokenizer.Find("post_processor"));
  const BpeTokenizer* self = bpe.get();
  DS_ASSIGN_OR_RETURN(bpe->special_tokens_,
                      ParseSpecialTokenPlan(post_processor, config, [self](std::string_view token) {
                        return self->IdOf(token);
                      }));
  return bpe;
}

std::optional<int32_t> BpeTokenizer::IdOf(std::string_view token) const {
  for (const auto& [id, added] : added_tokens_by_id_) {
    if (added.content == token) return id;
  }
  return model_->IdOf(token);
}

absl::StatusOr<std::vector<int32_t>> BpeTokenizer::Encode(std::string_view text,
                                                          bool add_special_tokens) const {
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("text to encode is not valid UTF-8 (byte offset ", bad, " of ", text.size(), ")"));
  }
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = special_tokens_.prefix;
  for (const TextSegment& segment : raw_added_tokens_->Split(text)) {
    if (segment.added_token_id.has_value()) {
      ids.push_back(*segment.added_token_id);
      continue;
    }
    DS_RETURN_IF_ERROR(EncodePlainText(segment.text, segment.text.data() == text.data(), &ids));
  }
  if (add_special_tokens) ids.insert(ids.end(), special_tokens_.suffix.begin(), special_tokens_.suffix.end());
  return ids;
}

absl::Status BpeTokenizer::EncodePlainText(std::string_view text, bool at_text_start,
                                           std::vector<int32_t>* ids) const {
  std::string normalized(text);
  if (normalizer_ != nullptr) {
    DS_ASSIGN_OR_RETURN(normalized, normalizer_->Normalize(std::move(normalized)));
  }
  for (const TextSegment& segment : normalized_added_tokens_->Split(normalized)) {
    if (segment.added_token_id.has_value()) {
      ids->push_back(*segment.added_token_id);
      continue;
    }
    const bool starts_text = at_text_start && segment.text.data() == normalized.data();
    std::vector<std::string> words;
    if (pre_tokenizer_ != nullptr) {
      DS_ASSIGN_OR_RETURN(words, pre_tokenizer_->Split(segment.text, starts_text));
    } else {
      words.emplace_back(segment.text);
    }
    for (const std::string& word : words) model_->EncodeWord(word, ids);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string_view> BpeTokenizer::TokenText(int32_t id) const {
  if (const auto it = added_tokens_by_id_.find(id); it != added_tokens_by_id_.end()) {
    return std::string_view(it->second.content);
  }
  if (const std::string* token = model_->TokenOf(id)) return std::string_view(*token);
  return absl::InvalidArgumentError(
      absl::StrCat("token id ", id, " is not in the vocabulary (size ", vocab_size_, ")"));
}

bool BpeTokenizer::IsSpecial(int32_t id) const {
  const auto it = added_tokens_by_id_.find(id);
  return it != added_tokens_by_id_.end() && it->second.special;
}

absl::StatusOr<std::string> BpeTokenizer::Decode(absl::Span<const int32_t> ids,
                                                 bool skip_special_tokens) const {
  BpeDecodeStream stream(*this, skip_special_tokens);
  std::string text;
  for (const int32_t id : ids) {
    DS_ASSIGN_OR_RETURN(const std::string piece, stream.Push(id));
    text += piece;
  }
  DS_ASSIGN_OR_RETURN(const std::string rest, stream.Flush());
  return text + rest;
}

std::unique_ptr<DecodeStream> BpeTokenizer::NewDecodeStream(bool skip_special_tokens) const {
  return std::make_unique<BpeDecodeStream>(*this, skip_special_tokens);
}

}  // namespace deltaserve::tokenization
