#pragma once

#include <cstdint>

#include <ATen/ATen.h>

namespace deltaserve::reference {

// Random float32 queries, keys and values of one sequence: q [positions, heads, dim],
// k and v [positions, kv_heads, dim].
struct AttentionInputs {
  at::Tensor q;
  at::Tensor k;
  at::Tensor v;

  static AttentionInputs Random(int64_t positions, int64_t heads, int64_t kv_heads, int64_t dim, uint64_t seed) {
    at::manual_seed(seed);
    return {at::randn({positions, heads, dim}), at::randn({positions, kv_heads, dim}),
            at::randn({positions, kv_heads, dim})};
  }
};

}  // namespace deltaserve::reference
