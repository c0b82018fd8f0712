#pragma once

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

// Turns a scheduled step into one forward batch over the paged cache and returns the
// logits of every sequence whose chunk reaches its last token.
class ModelRunner {
 public:
  ModelRunner(DeviceModel& device_model, StepProfiler profiler);

  StepLogits Run(const std::vector<ScheduledSequence>& scheduled);

 private:
  // Points the batch's prefill sequences at result->prefill, which must outlive the batch.
  ForwardBatch BuildBatch(const std::vector<ScheduledSequence>& scheduled, StepLogits* result) const;

  const LlamaModel& model_;
  KvCache& cache_;
  AttentionBackend& attention_;
  ForwardReplay* replay_;  // may be null
  StepProfiler profiler_;
};

}  // namespace deltaserve
