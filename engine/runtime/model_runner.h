#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "engine/cache/kv_cache.h"
#include "engine/model/attention_backend.h"
#include "engine/model/llama_model.h"
#include "engine/runtime/device_model.h"
#include "engine/runtime/scheduler.h"
#include "engine/runtime/step_profiler.h"

namespace deltaserve {

// What the attention backend measured of one sequence's prefill chunk.
struct PrefillChunk {
  Sequence* seq;
  int64_t start;  // the chunk's first position
  int64_t end;
  PrefillMeasurements measurements;
};

struct StepLogits {
  // On the host, for the rows of `owners`: their argmax ids when every owner samples plain
  // greedy (IsPlainGreedy), else their logits [N, vocab].
  std::vector<int32_t> greedy_tokens;
  at::Tensor logits;
  std::vector<Sequence*> owners;    // row i belongs to owners[i]
  std::vector<PrefillChunk> prefill;  // one per sequence whose chunk holds prompt tokens
  // Whether the measurements of this step's chunks, and of every earlier step's, are
  // complete. A step that only carries prompt chunks on does not wait for the device (the
  // next chunk's host work then overlaps its kernels): its chunks' measurements complete
  // with the next step that does, and must stay where they are until then.
  bool measurements_complete = true;
};

// A forward pass queued on the device and not yet waited for.
struct LaunchedPass {
  StepLogits result;  // owners and prefill; the tokens or logits once waited for
  // [owners] int64 on the device, when every owner samples plain greedy: the ids a pass
  // launched before they reach the host reads there (ModelRunner::LaunchAhead).
  at::Tensor greedy_ids;
  at::Tensor host_values;  // the ids or the logits, on their way to the host
  std::unique_ptr<DeviceMark> fetched;  // null: host_values is complete
  std::optional<StepProfiler::Trace> trace;
};

// Turns a scheduled step into one forward batch over the paged cache and returns the
// logits of every sequence whose chunk reaches its last token.
class ModelRunner {
 public:
  ModelRunner(DeviceModel& device_model, StepProfiler profiler);

  // Queues the pass of `scheduled` and the fetch of its tokens or logits.
  LaunchedPass Launch(const std::vector<ScheduledSequence>& scheduled);
  // Queues the pass after `previous` before previous's tokens reach the host: every owner of
  // previous (same rows, same order) decodes the token that previous computes for it,
  // read where previous leaves it, at position num_tokens(). previous must have greedy_ids,
  // and each owner the cache blocks for that position.
  LaunchedPass LaunchAhead(const LaunchedPass& previous);
  // Waits for the pass's tokens or logits (only for the device's work up to them, not for
  // passes queued after it) and settles the measurements that are due.
  StepLogits Wait(LaunchedPass pass);

 private:
  // Points the batch's prefill sequences at result->prefill, which must outlive the batch.
  // With ahead_tokens, each sequence's one row is position num_tokens(), its token there.
  ForwardBatch BuildBatch(const std::vector<ScheduledSequence>& scheduled, const at::Tensor* ahead_tokens,
                          StepLogits* result) const;
  LaunchedPass LaunchBatch(const std::vector<ScheduledSequence>& scheduled, const at::Tensor* ahead_tokens);
  // Queues the argmax or the logits of the owners' rows for the host.
  void Fetch(const at::Tensor& device_logits, LaunchedPass& pass) const;
  void SettleAfterFailure() noexcept;

  const LlamaModel& model_;
  KvCache& cache_;
  AttentionBackend& attention_;
  ForwardReplay* replay_;  // may be null
  std::function<std::unique_ptr<DeviceMark>()> mark_queue_;  // may be null
  StepProfiler profiler_;
};

}  // namespace deltaserve
