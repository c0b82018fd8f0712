#pragma once

#include "deltaserve/v1/generate_service.pb.h"
#include "engine/runtime/async_engine.h"

namespace deltaserve::server {

v1::FinishReason FinishReasonToWire(FinishReason reason);
void LayerAccuracyToWire(const LayerAccuracy& layer, v1::LayerAccuracy* wire);

// Appends one engine delivery (new tokens, text, logprobs) to a response being built;
// Message is v1::GenerateResponse or v1::GenerateStreamResponse.
template <typename Message>
void AppendOutput(const RequestOutput& output, Message* response) {
  response->mutable_token_ids()->Add(output.token_ids.begin(), output.token_ids.end());
  response->mutable_text()->append(output.text);
  for (const SampledToken& sampled : output.logprobs) {
    v1::TokenLogprob* logprob = response->add_logprobs();
    logprob->set_token_id(static_cast<uint32_t>(sampled.token));
    logprob->set_logprob(sampled.logprob);
    for (const auto& [token, value] : sampled.top_logprobs) {
      v1::TopLogprob* top = logprob->add_top_logprobs();
      top->set_token_id(static_cast<uint32_t>(token));
      top->set_logprob(value);
    }
  }
}

// Fills the fields of the last message: finish reason, usage, timings and, when asked,
// the accuracy per layer.
template <typename Message>
void SetCompletion(const RequestEvent& last, Message* response) {
  response->set_finish_reason(FinishReasonToWire(last.output.finish_reason));
  v1::Usage* usage = response->mutable_usage();
  usage->set_prompt_tokens(static_cast<uint32_t>(last.output.prompt_tokens));
  usage->set_completion_tokens(static_cast<uint32_t>(last.output.completion_tokens));
  usage->set_cached_prompt_tokens(static_cast<uint32_t>(last.output.cached_prompt_tokens));
  v1::Timings* timings = response->mutable_timings();
  timings->set_queue_seconds(last.timings.queue_seconds);
  timings->set_time_to_first_token_seconds(last.timings.time_to_first_token_seconds);
  timings->set_total_seconds(last.timings.total_seconds);
  for (const LayerAccuracy& layer : last.output.layer_accuracy) LayerAccuracyToWire(layer, response->add_layer_accuracy());
}

}  // namespace deltaserve::server
