#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

#include "engine/cache/kv_cache.h"
#include "engine/model/attention_backend.h"
#include "engine/model/llama_model.h"
#include "engine/runtime/scheduler.h"

namespace deltaserve {

struct StepLogits {
  at::Tensor logits;              // [N, vocab]
  std::vector<Sequence*> owners;  // row i belongs to owners[i]
};

// Turns a scheduled step into one forward batch over the paged cache and returns the
// logits of every sequence whose chunk reaches its last token.
class ModelRunner {
 public:
  ModelRunner(const LlamaModel& model, KvCache& cache, AttentionBackend& attention);

  StepLogits Run(const std::vector<ScheduledSequence>& scheduled) const;

 private:
  ForwardBatch BuildBatch(const std::vector<ScheduledSequence>& scheduled, std::vector<Sequence*>* owners) const;

  const LlamaModel& model_;
  KvCache& cache_;
  AttentionBackend& attention_;
};

}  // namespace deltaserve
