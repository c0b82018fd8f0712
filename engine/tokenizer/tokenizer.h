#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace deltaserve {

// Decode as a stream: Decode(ids) is Push(id) for every id followed by Flush(), so the
// text a stream returns piece by piece is exactly the text Decode returns at once. A
// piece never ends inside a UTF-8 character; text that later tokens may still change
// (an unfinished character, a byte-fallback run) is held back until they arrive.
class DecodeStream {
 public:
  virtual ~DecodeStream() = default;
  // Fails on ids outside the vocabulary, naming the id.
  virtual absl::StatusOr<std::string> Push(int32_t id) = 0;
  virtual absl::StatusOr<std::string> Flush() = 0;
};

// Text <-> token ids, as Hugging Face `tokenizers` does it for the tokenizer.json
// files of the Llama family.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads dir/tokenizer.json and, when present, dir/tokenizer_config.json.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::filesystem::path& dir);

  // For models without tokenizer files (dummy weights): ids 0..255 are the bytes of
  // the text, bos/eos are special tokens, every other id decodes to nothing.
  static std::unique_ptr<Tokenizer> ByteLevel(int64_t vocab_size, std::optional<int32_t> bos_id,
                                              std::optional<int32_t> eos_id);

  // add_special_tokens: BOS/EOS as the post_processor or tokenizer_config.json says.
  // Added and special tokens in the text are matched before BPE either way.
  virtual absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                                      bool add_special_tokens) const = 0;
  // Fails on ids outside the vocabulary, naming the id.
  virtual absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                             bool skip_special_tokens) const = 0;

  // The state behind Decode, for callers that receive ids one at a time.
  virtual std::unique_ptr<DecodeStream> NewDecodeStream(bool skip_special_tokens) const = 0;

  virtual int64_t vocab_size() const = 0;
  virtual bool IsSpecial(int32_t id) const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
};

// Streaming decode: Push returns the newly finished text after each token, never half
// a UTF-8 character, and the concatenation of everything Push and Flush returned equals
// Decode of all pushed ids. Each Push costs O(1) amortized: the tokenizer's DecodeStream
// carries only the state its decoder needs (pending bytes, "at start of text"), instead
// of re-decoding a window of earlier ids.
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);
  absl::StatusOr<std::string> Push(int32_t id);
  // The text still held back at the end of the stream (e.g. an incomplete character).
  // The stream is finished afterwards: further calls fail.
  absl::StatusOr<std::string> Flush();

 private:
  std::unique_ptr<DecodeStream> stream_;
};

}  // namespace deltaserve
