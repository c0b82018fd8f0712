#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/types/span.h"
#include "engine/attention/prefill_attention.h"
#include "engine/cache/kv_cache.h"

namespace deltaserve {

// What the backend measures of one sequence's prefill chunk in one step (DESIGN.md,
// "Accuracy telemetry"); calls add to it.
struct PrefillMeasurements {
  std::vector<AttentionTelemetry> layers;  // one per layer
  double attention_seconds = 0;            // wall time of the chunk's attention, all layers
};

// One sequence's share of a forward batch.
struct AttentionSequence {
  int64_t first_row = 0;       // its first row in the batch's token dimension
  int64_t num_queries = 0;     // rows it has in this step
  int64_t start_position = 0;  // tokens of it already in the cache = position of its first row
  int64_t prompt_len = 0;      // delta attention's anchors and tail are laid on the prompt
  absl::Span<const int32_t> block_table;
  AttentionConfig config;
  // One per layer, kept by the sequence across its prefill chunks (delta mode).
  std::vector<DeltaCarry>* delta_carry = nullptr;
  // Set for prefill chunks by a caller that reports accuracy and timing; null for decode.
  PrefillMeasurements* measurements = nullptr;
};

struct AttentionBatch {
  std::vector<AttentionSequence> sequences;
  at::Tensor slots;  // [T] int64: where each row's K and V go in the paged cache
};

// Attention over the paged KV cache for a ragged batch: stores the batch's new K/V,
// then attends every sequence's queries over its cached keys through its block table.
class AttentionBackend {
 public:
  virtual ~AttentionBackend() = default;
  // q [T, H, d], k and v [T, Hkv, d] -> [T, H, d].
  virtual at::Tensor Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const AttentionBatch& batch) = 0;
};

// Sees one sequence's attention output [num_queries, H, d] of one layer; for offline
// analysis (deltaserve-accuracy compares the modes layer by layer).
using AttentionObserver =
    std::function<void(int64_t layer, const AttentionSequence& seq, const at::Tensor& out)>;

// The CPU reference: float32, one sequence at a time, so a sequence's result does not
// depend on what else is in the batch.
class CpuPagedAttention : public AttentionBackend {
 public:
  // Layers listed in dense_layers prefill densely whatever a sequence's mode
  // (DESIGN.md: dense_layers).
  explicit CpuPagedAttention(KvCache& cache, std::vector<int64_t> dense_layers = {},
                             AttentionObserver observer = nullptr)
      : cache_(cache), dense_layers_(std::move(dense_layers)), observer_(std::move(observer)) {}
  at::Tensor Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionBatch& batch) override;

 private:
  KvCache& cache_;
  std::vector<int64_t> dense_layers_;
  AttentionObserver observer_;
};

}  // namespace deltaserve
