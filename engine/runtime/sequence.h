#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/attention/prefill_attention.h"
#include "engine/sampling/sampler.h"
#include "engine/sampling/sampling_params.h"
#include "engine/tokenizer/tokenizer.h"

namespace deltaserve {

enum class SequenceStatus { kWaiting, kRunning, kFinished };

enum class FinishReason { kNone, kLength, kStop, kEos, kCancelled, kError };
std::string_view FinishReasonName(FinishReason reason);

using Clock = std::chrono::steady_clock;

// One request's tokens and the engine's bookkeeping for it: how much of it has K/V
// in the cache, where its blocks are, and what has been generated.
struct Sequence {
  Sequence(std::string id, std::vector<int32_t> prompt, SamplingParams sampling_params,
           AttentionConfig attention_config, int32_t request_priority, uint64_t rng_seed,
           uint64_t arrival_order);

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  int64_t num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
  bool finished() const { return status == SequenceStatus::kFinished; }

  std::string request_id;
  std::vector<int32_t> token_ids;  // prompt, then generated tokens
  int64_t num_prompt_tokens;
  int64_t num_computed_tokens = 0;  // tokens whose K/V are in the cache
  int64_t num_cached_prompt_tokens = 0;  // of those, found in the prefix cache
  std::vector<int32_t> block_table;
  // Delta attention's correction handed from one prefill chunk to the next, per layer.
  std::vector<DeltaCarry> delta_carry;
  // The request asked for the accuracy of its prefill per layer (DESIGN.md, "Accuracy
  // telemetry"): the cosine samples of every prefill chunk, per layer, collected up to
  // position accuracy_measured_until.
  bool report_accuracy = false;
  std::vector<AttentionTelemetry> prefill_accuracy;
  int64_t accuracy_measured_until = 0;
  SamplingParams sampling;
  AttentionConfig attention;
  int32_t priority;
  uint64_t arrival;
  SamplerRng rng;
  SequenceStatus status = SequenceStatus::kWaiting;
  FinishReason finish_reason = FinishReason::kNone;
  Clock::time_point arrival_time = Clock::now();
  std::optional<Clock::time_point> first_scheduled_time;  // when it first entered the running batch
};

}  // namespace deltaserve
