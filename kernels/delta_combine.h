// The Delta Attention combine for one prefill chunk:
//   delta:     out[i] = sparse[i] + dense[a(i)] - sparse[a(i)]  for positions below prefix_end
//   recompute: out[i] = dense[i] at anchors, sparse[i] elsewhere below prefix_end
// and out[i] = dense[i] for the tail. Rows are [H * d] bf16; row t of sparse/out is
// position plan.start + t, dense rows follow the plan's order (kernels/delta_plan.h).
// A delta chunk that starts off the lambda grid below prefix_end opens with rows of an
// anchor a before it: they take out[i] = sparse[i] + carry, carry = dense[a] - sparse[a]
// handed over from the chunk that computed a.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/delta_plan.h"

namespace deltaserve::kernels {

enum class CorrectionMode { kDelta, kRecompute };

struct DeltaCombineArgs {
  const void* sparse = nullptr;  // [plan.len rows]
  std::int64_t sparse_row_stride = 0;
  const void* dense = nullptr;  // [plan.num_dense_rows() rows]
  std::int64_t dense_row_stride = 0;
  void* out = nullptr;  // [plan.len rows]; must not alias sparse (anchor rows are re-read)
  std::int64_t out_row_stride = 0;
  int row_elems = 0;  // num_heads * head_dim, a multiple of 8
  DeltaChunkPlan plan;
  CorrectionMode mode = CorrectionMode::kDelta;
  // [row_elems] bf16, 16-byte aligned: the correction of anchor plan.anchor_of(plan.start)
  // if it lies before the chunk (delta mode only; null otherwise). Unlike an anchor inside
  // the chunk, whose dense - sparse stays in fp32, it arrives rounded to bf16 (the engine's
  // carry is a bf16 tensor), so its rows round twice, as the engine's ATen combine does.
  const void* carry = nullptr;
};

// cudaErrorInvalidValue when a delta chunk opens with rows whose anchor lies before it and
// no carry is given, or the shapes are not 16-byte aligned.
cudaError_t DeltaCombine(const DeltaCombineArgs& args, cudaStream_t stream);

}  // namespace deltaserve::kernels
