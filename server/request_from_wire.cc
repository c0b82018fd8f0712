#include "server/request_from_wire.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/status_macros.h"

namespace deltaserve::server {
namespace {

absl::Status TokenIdsInVocabulary(const google::protobuf::RepeatedField<uint32_t>& ids, const std::string& field,
                                  int64_t vocab_size) {
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i] >= vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "]: ", ids[i], " is outside the vocabulary [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

std::vector<int32_t> ToInt32(const google::protobuf::RepeatedField<uint32_t>& ids) {
  return std::vector<int32_t>(ids.begin(), ids.end());
}

absl::StatusOr<std::vector<int32_t>> PromptTokens(const v1::GenerateRequest& wire, const RequestLimits& limits) {
  const bool has_text = !wire.prompt().empty();
  const bool has_ids = !wire.prompt_token_ids().empty();
  if (has_text == has_ids) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: give exactly one of prompt and prompt_token_ids, got ",
                                                   has_text ? "both" : "neither"));
  }
  if (has_ids) {
    DS_RETURN_IF_ERROR(TokenIdsInVocabulary(wire.prompt_token_ids(), "prompt_token_ids", limits.vocab_size));
    return ToInt32(wire.prompt_token_ids());
  }
  const size_t bad_byte = tokenization::FindInvalidUtf8(wire.prompt());
  if (bad_byte != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: must be valid UTF-8, byte ", bad_byte, " is not"));
  }
  if (limits.tokenizer == nullptr) {
    return absl::InvalidArgumentError("prompt: this model has no tokenizer; send prompt_token_ids instead");
  }
  return limits.tokenizer->Encode(wire.prompt(), /*add_special_tokens=*/true);
}

absl::StatusOr<SamplingParams> SamplingFromWire(const v1::GenerateRequest& request, const RequestLimits& limits) {
  const v1::SamplingParams& wire = request.sampling();
  SamplingParams params = limits.default_sampling;
  if (wire.has_max_tokens()) params.max_tokens = wire.max_tokens();
  if (wire.has_temperature()) params.temperature = wire.temperature();
  if (wire.has_top_p()) params.top_p = wire.top_p();
  if (wire.has_top_k()) params.top_k = wire.top_k();
  if (wire.has_min_p()) params.min_p = wire.min_p();
  if (wire.has_repetition_penalty()) params.repetition_penalty = wire.repetition_penalty();
  if (wire.has_presence_penalty()) params.presence_penalty = wire.presence_penalty();
  if (wire.has_frequency_penalty()) params.frequency_penalty = wire.frequency_penalty();
  if (wire.has_seed()) params.seed = wire.seed();
  for (int i = 0; i < wire.stop_size(); ++i) {
    const size_t bad_byte = tokenization::FindInvalidUtf8(wire.stop(i));
    if (bad_byte != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("sampling.stop[", i, "]: must be valid UTF-8, byte ", bad_byte, " is not"));
    }
  }
  params.stop.assign(wire.stop().begin(), wire.stop().end());
  DS_RETURN_IF_ERROR(TokenIdsInVocabulary(wire.stop_token_ids(), "sampling.stop_token_ids", limits.vocab_size));
  params.stop_token_ids = ToInt32(wire.stop_token_ids());
  params.ignore_eos = wire.ignore_eos();
  // logprobs sits beside sampling on the wire; checked here so the message names it there.
  if (request.logprobs() > static_cast<uint32_t>(limits.max_logprobs)) {
    return absl::InvalidArgumentError(
        absl::StrCat("logprobs: must be in [0, ", limits.max_logprobs, "], got ", request.logprobs()));
  }
  params.logprobs = static_cast<int32_t>(request.logprobs());

  SamplingLimits sampling_limits;
  sampling_limits.vocab_size = limits.vocab_size;
  sampling_limits.max_tokens = limits.max_model_len;
  sampling_limits.max_logprobs = limits.max_logprobs;
  DS_RETURN_IF_ERROR(ValidateSamplingParams(params, sampling_limits));
  return params;
}

absl::StatusOr<AttentionMode> ModeFromWire(v1::AttentionMode mode, AttentionMode default_mode) {
  switch (mode) {
    case v1::ATTENTION_MODE_UNSPECIFIED: return default_mode;
    case v1::ATTENTION_MODE_DENSE: return AttentionMode::kDense;
    case v1::ATTENTION_MODE_SPARSE: return AttentionMode::kSparse;
    case v1::ATTENTION_MODE_RECOMPUTE: return AttentionMode::kRecompute;
    case v1::ATTENTION_MODE_DELTA: return AttentionMode::kDelta;
    default: break;  // proto3 enums are open: any number can arrive
  }
  return absl::InvalidArgumentError(absl::StrCat("attention.mode: unknown value ", static_cast<int>(mode),
                                                 " (expected 0 to 4: unspecified, dense, sparse, recompute, delta)"));
}

absl::StatusOr<AttentionConfig> AttentionFromWire(const v1::AttentionParams& wire, const RequestLimits& limits) {
  AttentionConfig config = limits.default_attention;
  DS_ASSIGN_OR_RETURN(config.mode, ModeFromWire(wire.mode(), config.mode));
  if (wire.has_window()) config.window = wire.window();
  if (wire.has_sink()) config.sink = wire.sink();
  if (wire.has_lambda()) config.lambda = wire.lambda();
  if (wire.has_probe_fraction()) config.probe_fraction = wire.probe_fraction();
  DS_RETURN_IF_ERROR(ValidateAttentionConfig(config, "attention."));
  return config;
}

}  // namespace

absl::StatusOr<GenerationRequest> RequestFromWire(const v1::GenerateRequest& wire, const RequestLimits& limits) {
  GenerationRequest request;
  request.request_id = wire.request_id();
  DS_ASSIGN_OR_RETURN(request.sampling, SamplingFromWire(wire, limits));
  DS_ASSIGN_OR_RETURN(request.attention, AttentionFromWire(wire.attention(), limits));
  DS_ASSIGN_OR_RETURN(request.prompt_token_ids, PromptTokens(wire, limits));
  request.priority = wire.priority();
  request.report_accuracy = wire.attention().report_accuracy();
  return request;
}

}  // namespace deltaserve::server
