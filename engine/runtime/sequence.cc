#include "engine/runtime/sequence.h"

#include <utility>

namespace deltaserve {

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "none";
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kEos: return "eos";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "none";
}

Sequence::Sequence(std::string id, std::vector<int32_t> prompt, SamplingParams sampling_params,
                   AttentionConfig attention_config, int32_t request_priority, uint64_t rng_seed,
                   uint64_t arrival_order)
    : request_id(std::move(id)),
      token_ids(std::move(prompt)),
      num_prompt_tokens(static_cast<int64_t>(token_ids.size())),
      sampling(std::move(sampling_params)),
      attention(attention_config),
      priority(request_priority),
      arrival(arrival_order),
      rng(rng_seed) {}

}  // namespace deltaserve
