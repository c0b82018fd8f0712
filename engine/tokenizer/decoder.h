#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/json_field.h"

namespace deltaserve::tokenization {

// Text flowing through a decoder: one token's text, or (after Fuse / ByteLevel, which
// make a single token of everything) a continuation of the previous one.
struct DecodeChunk {
  std::string text;
  bool continues_token = false;
};

// One decoder of tokenizer.json's "decoder" in streaming form. Hugging Face decoders
// map a whole token list at once; each step here sees the tokens one by one and holds
// back only what a later token can still change, so that pushing tokens one at a time
// and pushing them all gives the same text.
class DecodeStep {
 public:
  virtual ~DecodeStep() = default;
  virtual absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) = 0;
  virtual absl::Status Flush(std::vector<DecodeChunk>* out) = 0;
};

// The parsed, immutable decoder configuration; each stream gets fresh steps.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::unique_ptr<DecodeStep> NewStep() const = 0;
};

// ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace and Sequence of them.
absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(const JsonField& decoder);

// Without a decoder, Hugging Face joins the tokens with spaces.
std::unique_ptr<Decoder> JoinWithSpacesDecoder();

}  // namespace deltaserve::tokenization
