#include "engine/sampling/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"

namespace deltaserve {
namespace {

// One rule of one field: OK when `holds`, else the message every client sees, e.g.
// "sampling.top_p: must be in (0, 1], got 1.5".
template <typename Value>
absl::Status Require(bool holds, const std::string& field, const std::string& rule,
                     const Value& got) {
  if (holds) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("sampling.", field, ": ", rule, ", got ", got));
}

bool InRange(float value, float low, float high) { return value >= low && value <= high; }

absl::Status ValidateStopStrings(const std::vector<std::string>& stop,
                                 const SamplingLimits& limits) {
  DS_RETURN_IF_ERROR(Require(
      stop.size() <= limits.max_stop_strings, "stop",
      absl::StrCat("must have at most ", limits.max_stop_strings, " strings"), stop.size()));
  for (size_t i = 0; i < stop.size(); ++i) {
    // An empty stop string would match before every token and end the request at once.
    DS_RETURN_IF_ERROR(
        Require(!stop[i].empty() && stop[i].size() <= limits.max_stop_string_bytes,
                absl::StrCat("stop[", i, "]"),
                absl::StrCat("must be 1 to ", limits.max_stop_string_bytes, " bytes long"),
                absl::StrCat(stop[i].size(), " bytes")));
  }
  return absl::OkStatus();
}

absl::Status ValidateStopTokenIds(const std::vector<int32_t>& ids, int64_t vocab_size) {
  for (size_t i = 0; i < ids.size(); ++i) {
    DS_RETURN_IF_ERROR(Require(ids[i] >= 0 && ids[i] < vocab_size,
                               absl::StrCat("stop_token_ids[", i, "]"),
                               absl::StrCat("must be in [0, ", vocab_size, ")"), ids[i]));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& params, const SamplingLimits& limits) {
  DS_RETURN_IF_ERROR(Require(params.max_tokens >= 1 && params.max_tokens <= limits.max_tokens,
                             "max_tokens", absl::StrCat("must be in [1, ", limits.max_tokens, "]"),
                             params.max_tokens));
  DS_RETURN_IF_ERROR(Require(std::isfinite(params.temperature) && params.temperature >= 0,
                             "temperature", "must be a finite number >= 0", params.temperature));
  DS_RETURN_IF_ERROR(
      Require(params.top_k >= -1, "top_k", "must be -1 or 0 (off) or >= 1", params.top_k));
  // Written as one range test so that NaN, which fails every comparison, is rejected too.
  DS_RETURN_IF_ERROR(
      Require(params.top_p > 0 && params.top_p <= 1, "top_p", "must be in (0, 1]", params.top_p));
  DS_RETURN_IF_ERROR(
      Require(InRange(params.min_p, 0, 1), "min_p", "must be in [0, 1]", params.min_p));
  DS_RETURN_IF_ERROR(
      Require(std::isfinite(params.repetition_penalty) && params.repetition_penalty > 0,
              "repetition_penalty", "must be a finite number > 0", params.repetition_penalty));
  DS_RETURN_IF_ERROR(Require(InRange(params.presence_penalty, -2, 2), "presence_penalty",
                             "must be in [-2, 2]", params.presence_penalty));
  DS_RETURN_IF_ERROR(Require(InRange(params.frequency_penalty, -2, 2), "frequency_penalty",
                             "must be in [-2, 2]", params.frequency_penalty));
  DS_RETURN_IF_ERROR(Require(params.logprobs >= 0 && params.logprobs <= limits.max_logprobs,
                             "logprobs", absl::StrCat("must be in [0, ", limits.max_logprobs, "]"),
                             params.logprobs));
  DS_RETURN_IF_ERROR(ValidateStopStrings(params.stop, limits));
  return ValidateStopTokenIds(params.stop_token_ids, limits.vocab_size);
}

}  // namespace deltaserve
