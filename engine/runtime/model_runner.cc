#include "engine/runtime/model_runner.h"

#include <ATen/ATen.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "engine/sampling/sampler.h"

namespace deltaserve {
namespace {

// On the host: from a GPU through page-locked memory, queued behind the pass (a 64-row
// step over a 128K vocabulary is 16 MB of logits, and a pageable copy moves only a few
// GB/s and waits for the device). The sampler converts each logits row itself.
at::Tensor QueueToHost(const at::Tensor& values) {
  if (!values.is_cuda()) return values;
  at::Tensor host = at::empty(values.sizes(), values.options().device(at::kCPU).pinned_memory(true));
  host.copy_(values, /*non_blocking=*/true);
  return host;
}

// Blocks until the device has run everything queued on its current stream (the side
// streams' work joins it there); on the CPU, which runs each op as it is called, at once.
void WaitForDevice(at::Device device) {
  c10::impl::VirtualGuardImpl(device.type()).getStream(device).synchronize();
}

std::vector<int32_t> ToTokens(const at::Tensor& ids) {
  const at::Tensor as_int = ids.to(at::kInt);
  return std::vector<int32_t>(as_int.data_ptr<int32_t>(), as_int.data_ptr<int32_t>() + as_int.numel());
}

}  // namespace

ModelRunner::ModelRunner(DeviceModel& device_model, StepProfiler profiler)
    : model_(*device_model.model),
      cache_(*device_model.cache),
      attention_(*device_model.attention),
      replay_(device_model.replay.get()),
      mark_queue_(device_model.mark_queue),
      profiler_(std::move(profiler)) {}

ForwardBatch ModelRunner::BuildBatch(const std::vector<ScheduledSequence>& scheduled, const at::Tensor* ahead_tokens,
                                     StepLogits* result) const {
  const int64_t block_size = cache_.shape().block_size;
  std::vector<int64_t> tokens, positions, slots, logit_rows;
  ForwardBatch batch;
  // The attention sequences point into it: no reallocation.
  result->prefill.reserve(scheduled.size());
  for (const ScheduledSequence& item : scheduled) {
    const Sequence& seq = *item.seq;
    const int64_t first_row = static_cast<int64_t>(positions.size());
    // Ahead of the pass computing its last token, which the host does not have yet.
    const int64_t start = ahead_tokens != nullptr ? seq.num_tokens() : seq.num_computed_tokens;
    const int64_t end = start + item.num_new_tokens;
    for (int64_t pos = start; pos < end; ++pos) {
      if (ahead_tokens == nullptr) tokens.push_back(seq.token_ids[pos]);
      positions.push_back(pos);
      slots.push_back(static_cast<int64_t>(seq.block_table[pos / block_size]) * block_size + pos % block_size);
    }
    AttentionSequence attention{first_row,        item.num_new_tokens, start,         seq.num_prompt_tokens,
                                seq.block_table, seq.attention,       &item.seq->delta_carry};
    if (start < seq.num_prompt_tokens) {
      result->prefill.push_back(PrefillChunk{item.seq, start, end, {}});
      attention.measurements = &result->prefill.back().measurements;
    }
    batch.attention.sequences.push_back(std::move(attention));
    if (ahead_tokens != nullptr || end == seq.num_tokens()) {
      logit_rows.push_back(static_cast<int64_t>(positions.size()) - 1);
      result->owners.push_back(item.seq);
    }
  }
  auto to_tensor = [](const std::vector<int64_t>& values) {
    return at::tensor(at::ArrayRef<int64_t>(values), at::kLong);
  };
  batch.token_ids = ahead_tokens != nullptr ? *ahead_tokens : to_tensor(tokens);
  batch.attention.positions = to_tensor(positions);
  batch.attention.slots = to_tensor(slots);
  batch.logit_rows = to_tensor(logit_rows);
  return batch;
}

// Greedy rows with nothing else to report are decided where the logits are: only their
// ids cross to the host instead of 16 MB of logits for a 64-row step over a 128K
// vocabulary, and the next pass can read them there.
void ModelRunner::Fetch(const at::Tensor& device_logits, LaunchedPass& pass) const {
  const std::vector<Sequence*>& owners = pass.result.owners;
  if (owners.empty()) return;
  const bool all_plain_greedy = std::all_of(owners.begin(), owners.end(),
                                            [](const Sequence* seq) { return IsPlainGreedy(seq->sampling); });
  if (all_plain_greedy) pass.greedy_ids = GreedyTokenIds(device_logits);
  pass.host_values = QueueToHost(all_plain_greedy ? pass.greedy_ids : device_logits);
  if (mark_queue_) pass.fetched = mark_queue_();
}

// The backend still points into the failed pass's measurements, which go with it: settle
// them (and those of earlier passes) first. The pass's own error is the one to report, so
// one from settling is dropped.
void ModelRunner::SettleAfterFailure() noexcept {
  try {
    attention_.EndForward();
  } catch (...) {
  }
}

LaunchedPass ModelRunner::Launch(const std::vector<ScheduledSequence>& scheduled) {
  return LaunchBatch(scheduled, nullptr);
}

LaunchedPass ModelRunner::LaunchAhead(const LaunchedPass& previous) {
  std::vector<ScheduledSequence> scheduled;
  for (Sequence* seq : previous.result.owners) scheduled.push_back(ScheduledSequence{seq, 1});
  return LaunchBatch(scheduled, &previous.greedy_ids);
}

LaunchedPass ModelRunner::LaunchBatch(const std::vector<ScheduledSequence>& scheduled,
                                      const at::Tensor* ahead_tokens) {
  LaunchedPass pass;
  ForwardBatch batch = BuildBatch(scheduled, ahead_tokens, &pass.result);
  // Ends when the pass is waited for; a traced pass waits for the device first, so that its
  // trace holds all its kernels.
  pass.trace.emplace(profiler_.Begin(!pass.result.prefill.empty()));
  try {
    std::optional<at::Tensor> replayed = replay_ != nullptr ? replay_->TryReplay(batch) : std::nullopt;
    Fetch(replayed.has_value() ? *replayed : model_.Forward(batch, attention_), pass);
  } catch (...) {
    SettleAfterFailure();
    throw;
  }
  return pass;
}

StepLogits ModelRunner::Wait(LaunchedPass pass) {
  StepLogits& result = pass.result;
  const bool traced = pass.trace->active();
  try {
    if (pass.fetched != nullptr) pass.fetched->Wait();
    if (traced) WaitForDevice(model_.device());
  } catch (...) {
    SettleAfterFailure();
    throw;
  }
  if (pass.greedy_ids.defined()) {
    result.greedy_tokens = ToTokens(pass.host_values);
  } else {
    result.logits = pass.host_values;
  }
  // Sampling and tracing waited for the device: settling the measurements costs nothing more.
  result.measurements_complete = !result.owners.empty() || traced;
  if (result.measurements_complete) attention_.EndForward();
  return std::move(result);
}

}  // namespace deltaserve
