#include "engine/tokenizer/decoder.h"

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/byte_level_map.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

// A Decoder whose steps are made by a factory function.
class StepFactoryDecoder : public Decoder {
 public:
  explicit StepFactoryDecoder(std::function<std::unique_ptr<DecodeStep>()> factory)
      : factory_(std::move(factory)) {}
  std::unique_ptr<DecodeStep> NewStep() const override { return factory_(); }

 private:
  std::function<std::unique_ptr<DecodeStep>()> factory_;
};

template <typename Step, typename... Args>
std::unique_ptr<Decoder> DecoderOf(Args... args) {
  return std::make_unique<StepFactoryDecoder>(
      [args...]() -> std::unique_ptr<DecodeStep> { return std::make_unique<Step>(args...); });
}

// Maps each character of the byte-level alphabet back to its byte and decodes the bytes
// of all tokens as one UTF-8 text, so characters split across tokens survive.
class ByteLevelStep : public DecodeStep {
 public:
  absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) override {
    // Tokens outside the alphabet (added tokens in plain text) pass as their own bytes.
    const std::optional<std::string> bytes = ByteLevelToBytes(chunk.text);
    Emit(utf8_.Push(bytes.has_value() ? *bytes : chunk.text), out);
    return absl::OkStatus();
  }
  absl::Status Flush(std::vector<DecodeChunk>* out) override {
    Emit(utf8_.Flush(), out);
    return absl::OkStatus();
  }

 private:
  void Emit(std::string text, std::vector<DecodeChunk>* out) {
    if (text.empty()) return;
    out->push_back({std::move(text), started_});
    started_ = true;
  }
  Utf8StreamDecoder utf8_;
  bool started_ = false;
};

class ReplaceStep : public DecodeStep {
 public:
  ReplaceStep(std::shared_ptr<const Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) override {
    // Patterns are matched within a chunk; real files replace single characters.
    DS_ASSIGN_OR_RETURN(chunk.text, ReplaceAll(*pattern_, chunk.text, content_));
    out->push_back(std::move(chunk));
    return absl::OkStatus();
  }
  absl::Status Flush(std::vector<DecodeChunk>*) override { return absl::OkStatus(); }

 private:
  std::shared_ptr<const Regex> pattern_;
  std::string content_;
};

// Runs of <0xNN> tokens become their bytes when those form valid UTF-8, else one
// U+FFFD per byte (Hugging Face's rule, stricter than a lossy UTF-8 decode).
class ByteFallbackStep : public DecodeStep {
 public:
  absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) override {
    if (const std::optional<char> byte = ParseByteToken(chunk.text)) {
      run_ += *byte;
      return absl::OkStatus();
    }
    EmitRun(out);
    out->push_back(std::move(chunk));
    return absl::OkStatus();
  }
  absl::Status Flush(std::vector<DecodeChunk>* out) override {
    EmitRun(out);
    return absl::OkStatus();
  }

 private:
  static std::optional<char> ParseByteToken(const std::string& token) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return std::nullopt;
    char* end = nullptr;
    const std::string hex = token.substr(3, 2);
    const long value = std::strtol(hex.c_str(), &end, 16);
    if (end != hex.c_str() + 2) return std::nullopt;
    return static_cast<char>(value);
  }
  void EmitRun(std::vector<DecodeChunk>* out) {
    if (run_.empty()) return;
    if (FindInvalidUtf8(run_) == std::string_view::npos) {
      out->push_back({std::move(run_), false});
    } else {
      for (size_t i = 0; i < run_.size(); ++i) out->push_back({std::string(kReplacementCharacter), false});
    }
    run_.clear();
  }
  std::string run_;
};

class FuseStep : public DecodeStep {
 public:
  absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) override {
    chunk.continues_token = started_;
    started_ = true;
    out->push_back(std::move(chunk));
    return absl::OkStatus();
  }
  absl::Status Flush(std::vector<DecodeChunk>*) override { return absl::OkStatus(); }

 private:
  bool started_ = false;
};

// Removes up to `start` leading and `stop` trailing `content` characters of each token.
class StripStep : public DecodeStep {
 public:
  StripStep(std::string content, int64_t start, int64_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}

  absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) override {
    if (!chunk.continues_token) EndToken(out);
    std::string kept;
    for (size_t pos = 0; pos < chunk.text.size();) {
      const size_t length = Utf8CharLength(std::string_view(chunk.text).substr(pos));
      const std::string_view character = std::string_view(chunk.text).substr(pos, length);
      pos += length;
      const bool is_content = character == content_;
      if (in_leading_run_ && is_content && stripped_at_start_ < start_) {
        ++stripped_at_start_;
        continue;
      }
      in_leading_run_ = false;
      if (is_content) {
        ++trailing_count_;
        continue;
      }
      AppendTrailing(trailing_count_, &kept);
      kept.append(character);
    }
    out->push_back({std::move(kept), chunk.continues_token});
    return absl::OkStatus();
  }
  absl::Status Flush(std::vector<DecodeChunk>* out) override {
    EndToken(out);
    return absl::OkStatus();
  }

 private:
  void AppendTrailing(int64_t count, std::string* text) {
    for (int64_t i = 0; i < count; ++i) text->append(content_);
    trailing_count_ = 0;
  }
  // Trailing content characters were held back; those beyond `stop` stay.
  void EndToken(std::vector<DecodeChunk>* out) {
    std::string rest;
    AppendTrailing(trailing_count_ > stop_ ? trailing_count_ - stop_ : 0, &rest);
    if (!rest.empty()) out->push_back({std::move(rest), true});
    in_leading_run_ = true;
    stripped_at_start_ = 0;
  }
  std::string content_;
  int64_t start_;
  int64_t stop_;
  bool in_leading_run_ = true;
  int64_t stripped_at_start_ = 0;
  int64_t trailing_count_ = 0;
};

// The replacement character becomes a space, except in the first token, where it
// marks the space the pre-tokenizer prepended.
class MetaspaceStep : public DecodeStep {
 public:
  MetaspaceStep(std::string replacement, bool drop_in_first_token)
      : replacement_(std::move(replacement)), drop_in_first_token_(drop_in_first_token) {}
  absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) override {
    if (!chunk.continues_token) ++token_index_;
    const std::string space = token_index_ == 1 && drop_in_first_token_ ? "" : " ";
    std::string text;
    for (size_t pos = 0; pos < chunk.text.size();) {
      const size_t length = Utf8CharLength(std::string_view(chunk.text).substr(pos));
      const std::string_view character = std::string_view(chunk.text).substr(pos, length);
      text.append(character == replacement_ ? std::string_view(space) : character);
      pos += length;
    }
    out->push_back({std::move(text), chunk.continues_token});
    return absl::OkStatus();
  }
  absl::Status Flush(std::vector<DecodeChunk>*) override { return absl::OkStatus(); }

 private:
  std::string replacement_;
  bool drop_in_first_token_;
  int64_t token_index_ = 0;
};

class JoinWithSpacesStep : public DecodeStep {
 public:
  absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) override {
    if (started_ && !chunk.continues_token) chunk.text.insert(0, " ");
    started_ = true;
    out->push_back(std::move(chunk));
    return absl::OkStatus();
  }
  absl::Status Flush(std::vector<DecodeChunk>*) override { return absl::OkStatus(); }

 private:
  bool started_ = false;
};

class SequenceStep : public DecodeStep {
 public:
  explicit SequenceStep(std::vector<std::unique_ptr<DecodeStep>> steps) : steps_(std::move(steps)) {}

  absl::Status Push(DecodeChunk chunk, std::vector<DecodeChunk>* out) override {
    std::vector<DecodeChunk> chunks;
    chunks.push_back(std::move(chunk));
    return RunFrom(0, std::move(chunks), out);
  }
  // Each step's held-back text goes through the steps after it before they flush.
  absl::Status Flush(std::vector<DecodeChunk>* out) override {
    for (size_t i = 0; i < steps_.size(); ++i) {
      std::vector<DecodeChunk> flushed;
      DS_RETURN_IF_ERROR(steps_[i]->Flush(&flushed));
      DS_RETURN_IF_ERROR(RunFrom(i + 1, std::move(flushed), out));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status RunFrom(size_t first_step, std::vector<DecodeChunk> chunks,
                       std::vector<DecodeChunk>* out) {
    for (size_t i = first_step; i < steps_.size(); ++i) {
      std::vector<DecodeChunk> next;
      for (DecodeChunk& chunk : chunks) DS_RETURN_IF_ERROR(steps_[i]->Push(std::move(chunk), &next));
      chunks = std::move(next);
    }
    for (DecodeChunk& chunk : chunks) out->push_back(std::move(chunk));
    return absl::OkStatus();
  }
  std::vector<std::unique_ptr<DecodeStep>> steps_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> decoders)
      : decoders_(std::move(decoders)) {}
  std::unique_ptr<DecodeStep> NewStep() const override {
    std::vector<std::unique_ptr<DecodeStep>> steps;
    for (const auto& decoder : decoders_) steps.push_back(decoder->NewStep());
    return std::make_unique<SequenceStep>(std::move(steps));
  }

 private:
  std::vector<std::unique_ptr<Decoder>> decoders_;
};

absl::StatusOr<std::unique_ptr<Decoder>> ParseReplace(const JsonField& replace) {
  DS_ASSIGN_OR_RETURN(const JsonField pattern_field, replace.Get("pattern"));
  DS_ASSIGN_OR_RETURN(Regex pattern, ParsePattern(pattern_field));
  DS_ASSIGN_OR_RETURN(const JsonField content_field, replace.Get("content"));
  DS_ASSIGN_OR_RETURN(const std::string content, content_field.String());
  auto shared_pattern = std::make_shared<const Regex>(std::move(pattern));
  return DecoderOf<ReplaceStep>(shared_pattern, content);
}

absl::StatusOr<std::unique_ptr<Decoder>> ParseStrip(const JsonField& strip) {
  DS_ASSIGN_OR_RETURN(const JsonField content_field, strip.Get("content"));
  DS_ASSIGN_OR_RETURN(const std::string content, content_field.String());
  if (content.empty() || Utf8CharLength(content) != content.size()) {
    return content_field.Error("expected a single character");
  }
  DS_ASSIGN_OR_RETURN(const JsonField start_field, strip.Get("start"));
  DS_ASSIGN_OR_RETURN(const int64_t start, start_field.Int());
  DS_ASSIGN_OR_RETURN(const JsonField stop_field, strip.Get("stop"));
  DS_ASSIGN_OR_RETURN(const int64_t stop, stop_field.Int());
  return DecoderOf<StripStep>(content, start, stop);
}

absl::StatusOr<std::unique_ptr<Decoder>> ParseMetaspace(const JsonField& metaspace) {
  DS_ASSIGN_OR_RETURN(const JsonField replacement_field, metaspace.Get("replacement"));
  DS_ASSIGN_OR_RETURN(const std::string replacement, replacement_field.String());
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> scheme, metaspace.Find("prepend_scheme"));
  bool prepends = true;
  if (scheme.has_value()) {
    DS_ASSIGN_OR_RETURN(const std::string name, scheme->String());
    prepends = name != "never";
  } else {
    DS_ASSIGN_OR_RETURN(prepends, metaspace.BoolOr("add_prefix_space", true));
  }
  return DecoderOf<MetaspaceStep>(replacement, prepends);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(const JsonField& decoder) {
  DS_ASSIGN_OR_RETURN(const JsonField type_field, decoder.Get("type"));
  DS_ASSIGN_OR_RETURN(const std::string type, type_field.String());
  if (type == "ByteLevel") return DecoderOf<ByteLevelStep>();
  if (type == "Replace") return ParseReplace(decoder);
  if (type == "ByteFallback") return DecoderOf<ByteFallbackStep>();
  if (type == "Fuse") return DecoderOf<FuseStep>();
  if (type == "Strip") return ParseStrip(decoder);
  if (type == "Metaspace") return ParseMetaspace(decoder);
  if (type == "Sequence") {
    DS_ASSIGN_OR_RETURN(const JsonField list, decoder.Get("decoders"));
    DS_ASSIGN_OR_RETURN(const std::vector<JsonField> elements, list.Elements());
    std::vector<std::unique_ptr<Decoder>> decoders;
    for (const JsonField& element : elements) {
      DS_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> child, ParseDecoder(element));
      decoders.push_back(std::move(child));
    }
    return std::make_unique<SequenceDecoder>(std::move(decoders));
  }
  return type_field.Error(absl::StrCat(
      "decoder type \"", type,
      "\" is not supported (supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, "
      "Metaspace, Sequence)"));
}

std::unique_ptr<Decoder> JoinWithSpacesDecoder() { return DecoderOf<JoinWithSpacesStep>(); }

}  // namespace deltaserve::tokenization
