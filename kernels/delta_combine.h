// The Delta Attention combine for one prefill chunk:
//   delta:     out[i] = sparse[i] + dense[a(i)] - sparse[a(i)]  for positions below prefix_end
//   recompute: out[i] = dense[i] at anchors, sparse[i] elsewhere below prefix_end
// and out[i] = dense[i] for the tail. Rows are [H * d] bf16; row t of sparse/out is
// position plan.start + t, dense rows follow the plan's order (kernels/delta_plan.h).
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
};

// cudaErrorInvalidValue when a corrected row's anchor lies before the chunk (a chunk that
// reaches below prefix_end must start on the lambda grid) or the shapes are not 16-byte
// aligned.
cudaError_t DeltaCombine(const DeltaCombineArgs& args, cudaStream_t stream);

}  // namespace deltaserve::kernels
