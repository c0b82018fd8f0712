#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/types/span.h"
#include "engine/attention/prefill_attention.h"
#include "engine/cache/kv_cache.h"
#include "engine/model/model_config.h"
#include "engine/model/rope.h"

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

// Host tensors: each backend moves what it needs to its device.
struct AttentionBatch {
  std::vector<AttentionSequence> sequences;
  at::Tensor positions;  // [T] int64: each row's position in its sequence
  at::Tensor slots;      // [T] int64: where each row's K and V go in the paged cache
};

// Attention over the paged KV cache for a ragged batch: rotates the new queries and keys
// (RoPE), stores the batch's K/V, then attends every sequence's queries over its cached
// keys through its block table.
class AttentionBackend {
 public:
  virtual ~AttentionBackend() = default;
  // Once per forward pass, before the first layer: a device backend uploads the batch's
  // metadata here instead of once per layer.
  virtual void BeginForward(const AttentionBatch& batch) { (void)batch; }
  // q [T, H, d], k and v [T, Hkv, d] as projected (before RoPE; q and k may be rotated in
  // place) -> [T, H, d].
  virtual at::Tensor Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const AttentionBatch& batch) = 0;
  // Settles the measurements (attention_seconds, the telemetry cosines) of every pass
  // since the last call, waiting for the device's timers where it must; the runner calls it
  // only after passes whose results it waits for anyway, so passes that carry prompt
  // chunks on are settled with a later one (their measurements must outlive them), and
  // when a pass throws, before that pass's measurements go. The measurements handed to a
  // pass are valid until EndForward returns, whether it returns or throws: nothing may
  // point into them after.
  virtual void EndForward() {}
};

// The sequence's attention settings in `layer`: dense in the listed dense layers
// (DESIGN.md: dense_layers), its own elsewhere.
AttentionConfig LayerAttentionConfig(const AttentionSequence& seq, int64_t layer,
                                     const std::vector<int64_t>& dense_layers);

// The sequence's delta carry and telemetry of `layer`, each null when it keeps none.
PrefillAttentionExtras LayerExtras(const AttentionSequence& seq, int64_t layer);

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
  CpuPagedAttention(KvCache& cache, const ModelConfig& config, std::vector<int64_t> dense_layers = {},
                    AttentionObserver observer = nullptr)
      : cache_(cache), rope_(config), dense_layers_(std::move(dense_layers)), observer_(std::move(observer)) {}
  at::Tensor Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionBatch& batch) override;

 private:
  KvCache& cache_;
  RotaryEmbedding rope_;
  std::vector<int64_t> dense_layers_;
  AttentionObserver observer_;
};

}  // namespace deltaserve
