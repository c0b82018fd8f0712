#include "engine/model/attention_backend.h"

#include <ATen/ATen.h>

namespace deltaserve {

at::Tensor CpuPagedAttention::Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                      const at::Tensor& v, const AttentionBatch& batch) {
  cache_.Write(layer, k, v, batch.slots);
  at::Tensor out = at::empty_like(q);
  for (const AttentionSequence& seq : batch.sequences) {
    const int64_t end = seq.first_row + seq.num_queries;
    auto [keys, values] = cache_.Gather(layer, seq.block_table, seq.start_position + seq.num_queries);
    PrefillAttentionExtras extras;
    if (seq.delta_carry != nullptr) {
      if (static_cast<int64_t>(seq.delta_carry->size()) <= layer) seq.delta_carry->resize(layer + 1);
      extras.carry = &(*seq.delta_carry)[layer];
    }
    out.slice(0, seq.first_row, end)
        .copy_(PrefillAttention(q.slice(0, seq.first_row, end), keys, values, seq.start_position,
                                seq.prompt_len, seq.config, extras));
  }
  return out;
}

}  // namespace deltaserve
