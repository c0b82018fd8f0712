#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "engine/attention/attention_config.h"

namespace deltaserve::reference {

// Float64 attention written straight from DESIGN.md ("Delta Attention, exactly") with
// explicit [S, S] masks and per-row formulas, sharing nothing with the tiled engine code.
// q [S, H, d], k and v [S, Hkv, d] hold positions 0..S-1; prompt_len <= S, and the
// positions from prompt_len on are decode queries.
struct ReferenceRows {
  at::Tensor dense;   // [S, H, d] float64
  at::Tensor sparse;  // [S, H, d] float64
};

ReferenceRows DenseAndSparse(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t sink,
                             int64_t window);

// The prefill output of `config.mode` for all S positions, [S, H, d] float64.
at::Tensor Prefill(const ReferenceRows& rows, int64_t prompt_len, const AttentionConfig& config);

// s_p of DESIGN.md, not clamped (may be <= 0).
int64_t SparseEnd(int64_t prompt_len, int64_t lambda);

// ||actual - expected||_F / ||expected||_F, in float64.
double RelativeError(const at::Tensor& actual, const at::Tensor& expected);

// cos(a[h], b[h]) of [H, d] rows, averaged over heads.
double MeanHeadCosine(const at::Tensor& a, const at::Tensor& b);

// Number of keys j the query at position i sees: j <= i and (j < sink or j > i - window).
int64_t VisibleKeys(int64_t i, int64_t sink, int64_t window);

}  // namespace deltaserve::reference
