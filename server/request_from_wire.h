#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "deltaserve/v1/generate_service.pb.h"
#include "engine/attention/attention_config.h"
#include "engine/runtime/llm_engine.h"
#include "engine/sampling/sampling_params.h"
#include "engine/tokenizer/tokenizer.h"

namespace deltaserve::server {

// What a wire request is checked against and completed with.
struct RequestLimits {
  const Tokenizer* tokenizer = nullptr;  // null: prompts must be token ids
  int64_t vocab_size = 0;
  int64_t max_model_len = 0;
  int32_t max_logprobs = 0;
  SamplingParams default_sampling;    // for every field the request leaves unset
  AttentionConfig default_attention;  // likewise
};

// The engine request for a wire request, or INVALID_ARGUMENT naming the wire field, the
// limit and the value. What only the engine knows (prompt length against the cache) it
// still checks itself when the request arrives there.
absl::StatusOr<GenerationRequest> RequestFromWire(const v1::GenerateRequest& wire, const RequestLimits& limits);

}  // namespace deltaserve::server
