#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace deltaserve {

// Per-request sampling settings; the defaults are a server's defaults. temperature 0
// means greedy.
struct SamplingParams {
  int64_t max_tokens = 16;
  float temperature = 1.0f;
  int32_t top_k = -1;  // -1 or 0: off
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  int32_t logprobs = 0;  // how many top alternatives to report per chosen token
};

struct SamplingLimits {
  int64_t vocab_size = 0;
  int64_t max_tokens = 0;       // upper bound for max_tokens
  int32_t max_logprobs = 20;
  size_t max_stop_strings = 16;
  size_t max_stop_string_bytes = 256;
};

// INVALID_ARGUMENT naming the field, the limit and the value for anything out of range.
absl::Status ValidateSamplingParams(const SamplingParams& params, const SamplingLimits& limits);

}  // namespace deltaserve
