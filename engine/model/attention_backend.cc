#include "engine/model/attention_backend.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>

namespace deltaserve {
namespace {

template <typename T>
T* LayerSlot(std::vector<T>& per_layer, int64_t layer) {
  if (static_cast<int64_t>(per_layer.size()) <= layer) per_layer.resize(layer + 1);
  return &per_layer[layer];
}

}  // namespace

AttentionConfig LayerAttentionConfig(const AttentionSequence& seq, int64_t layer,
                                     const std::vector<int64_t>& dense_layers) {
  AttentionConfig config = seq.config;
  if (std::find(dense_layers.begin(), dense_layers.end(), layer) != dense_layers.end()) {
    config.mode = AttentionMode::kDense;
  }
  return config;
}

PrefillAttentionExtras LayerExtras(const AttentionSequence& seq, int64_t layer) {
  PrefillAttentionExtras extras;
  if (seq.delta_carry != nullptr) extras.carry = LayerSlot(*seq.delta_carry, layer);
  if (seq.measurements != nullptr) extras.telemetry = LayerSlot(seq.measurements->layers, layer);
  return extras;
}

at::Tensor CpuPagedAttention::Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                      const at::Tensor& v, const AttentionBatch& batch) {
  at::Tensor rotated_q = q;
  at::Tensor rotated_k = k;
  rope_.Apply(rotated_q, rotated_k, batch.positions);
  cache_.Write(layer, rotated_k, v, batch.slots);
  at::Tensor out = at::empty_like(rotated_q);
  for (const AttentionSequence& seq : batch.sequences) {
    const int64_t end = seq.first_row + seq.num_queries;
    auto [keys, values] = cache_.Gather(layer, seq.block_table, seq.start_position + seq.num_queries);
    const auto start = std::chrono::steady_clock::now();
    at::Tensor seq_out = out.slice(0, seq.first_row, end);
    seq_out.copy_(PrefillAttention(rotated_q.slice(0, seq.first_row, end), keys, values, seq.start_position,
                                   seq.prompt_len, LayerAttentionConfig(seq, layer, dense_layers_),
                                   LayerExtras(seq, layer)));
    if (seq.measurements != nullptr) {
      seq.measurements->attention_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (observer_) observer_(layer, seq, seq_out);
  }
  return out;
}

}  // namespace deltaserve
