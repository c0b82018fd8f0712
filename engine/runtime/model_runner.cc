#include "engine/runtime/model_runner.h"

#include <ATen/ATen.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "engine/sampling/sampler.h"

namespace deltaserve {
namespace {

// The logits on the host: float32 from the CPU; from a GPU in the model's dtype through
// page-locked memory, since a 64-row step over a 128K vocabulary is 16 MB and a pageable
// copy moves only a few GB/s. The sampler converts each row itself.
at::Tensor LogitsToHost(const at::Tensor& logits) {
  if (!logits.is_cuda()) return logits.to(at::kFloat);
  at::Tensor host = at::empty(logits.sizes(), logits.options().device(at::kCPU).pinned_memory(true));
  host.copy_(logits);
  return host;
}

// Greedy rows with nothing else to report are decided where the logits are: only their
// ids cross to the host instead of 16 MB of logits for a 64-row step over a 128K
// vocabulary. Waits for the forward pass, unless no row is to be sampled.
void FetchLogits(const at::Tensor& device_logits, StepLogits& result) {
  if (result.owners.empty()) return;
  const bool all_plain_greedy = std::all_of(result.owners.begin(), result.owners.end(),
                                            [](const Sequence* seq) { return IsPlainGreedy(seq->sampling); });
  if (all_plain_greedy) {
    result.greedy_tokens = GreedyTokens(device_logits);
  } else {
    result.logits = LogitsToHost(device_logits);
  }
}

// Blocks until the device has run everything queued on its current stream (the side
// streams' work joins it there); on the CPU, which runs each op as it is called, at once.
void WaitForDevice(at::Device device) {
  c10::impl::VirtualGuardImpl(device.type()).getStream(device).synchronize();
}

}  // namespace

ModelRunner::ModelRunner(DeviceModel& device_model, StepProfiler profiler)
    : model_(*device_model.model),
      cache_(*device_model.cache),
      attention_(*device_model.attention),
      replay_(device_model.replay.get()),
      profiler_(std::move(profiler)) {}

ForwardBatch ModelRunner::BuildBatch(const std::vector<ScheduledSequence>& scheduled, StepLogits* result) const {
  const int64_t block_size = cache_.shape().block_size;
  std::vector<int64_t> tokens, positions, slots, logit_rows;
  ForwardBatch batch;
  // The attention sequences point into it: no reallocation.
  result->prefill.reserve(scheduled.size());
  for (const ScheduledSequence& item : scheduled) {
    const Sequence& seq = *item.seq;
    const int64_t first_row = static_cast<int64_t>(tokens.size());
    for (int64_t pos = seq.num_computed_tokens; pos < seq.num_computed_tokens + item.num_new_tokens; ++pos) {
      tokens.push_back(seq.token_ids[pos]);
      positions.push_back(pos);
      slots.push_back(static_cast<int64_t>(seq.block_table[pos / block_size]) * block_size + pos % block_size);
    }
    const int64_t end = seq.num_computed_tokens + item.num_new_tokens;
    AttentionSequence attention{first_row,        item.num_new_tokens, seq.num_computed_tokens, seq.num_prompt_tokens,
                                seq.block_table, seq.attention,       &item.seq->delta_carry};
    if (seq.num_computed_tokens < seq.num_prompt_tokens) {
      result->prefill.push_back(PrefillChunk{item.seq, seq.num_computed_tokens, end, {}});
      attention.measurements = &result->prefill.back().measurements;
    }
    batch.attention.sequences.push_back(std::move(attention));
    if (end == seq.num_tokens()) {
      logit_rows.push_back(static_cast<int64_t>(tokens.size()) - 1);
      result->owners.push_back(item.seq);
    }
  }
  auto to_tensor = [](const std::vector<int64_t>& values) {
    return at::tensor(at::ArrayRef<int64_t>(values), at::kLong);
  };
  batch.token_ids = to_tensor(tokens);
  batch.attention.positions = to_tensor(positions);
  batch.attention.slots = to_tensor(slots);
  batch.logit_rows = to_tensor(logit_rows);
  return batch;
}

StepLogits ModelRunner::Run(const std::vector<ScheduledSequence>& scheduled) {
  StepLogits result;
  ForwardBatch batch = BuildBatch(scheduled, &result);
  // Ends on return; a traced pass waits for the device first, so that its trace holds all
  // its kernels (FetchLogits waits only where a row is sampled).
  const StepProfiler::Trace trace = profiler_.Begin(!result.prefill.empty());
  try {
    std::optional<at::Tensor> replayed = replay_ != nullptr ? replay_->TryReplay(batch) : std::nullopt;
    FetchLogits(replayed.has_value() ? *replayed : model_.Forward(batch, attention_), result);
    if (trace.active()) WaitForDevice(model_.device());
  } catch (...) {
    // The backend still points into result's measurements, which go with it: settle them
    // (and those of earlier passes) first. The pass's own error is the one to report, so
    // one from settling is dropped.
    try {
      attention_.EndForward();
    } catch (...) {
    }
    throw;
  }
  // Sampling and tracing waited for the device: settling the measurements costs nothing more.
  result.measurements_complete = !result.owners.empty() || trace.active();
  if (result.measurements_complete) attention_.EndForward();
  return result;
}

}  // namespace deltaserve
