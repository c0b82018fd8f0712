#include "kernels/delta_combine.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace deltaserve::kernels {
namespace {

constexpr int kThreads = 128;

struct Bf16x8 {
  uint4 bits;
  __device__ float operator[](int i) const {
    const auto* h = reinterpret_cast<const __nv_bfloat16*>(&bits);
    return __bfloat162float(h[i]);
  }
};

__device__ Bf16x8 Load8(const __nv_bfloat16* row, int vec) {
  return Bf16x8{__ldg(reinterpret_cast<const uint4*>(row) + vec)};
}

__global__ void DeltaCombineKernel(DeltaCombineArgs a) {
  const auto* sparse = static_cast<const __nv_bfloat16*>(a.sparse);
  const auto* dense = static_cast<const __nv_bfloat16*>(a.dense);
  const int t = static_cast<int>(blockIdx.x);
  const int pos = a.plan.start + t;
  auto* out_row = reinterpret_cast<uint4*>(static_cast<__nv_bfloat16*>(a.out) + t * a.out_row_stride);
  const int vecs = a.row_elems / 8;
  const bool dense_row = pos >= a.plan.prefix_end ||
                         (a.mode == CorrectionMode::kRecompute && pos % a.plan.lambda == 0);
  if (dense_row) {
    const __nv_bfloat16* src = dense + a.plan.dense_row_of(pos) * a.dense_row_stride;
    for (int v = threadIdx.x; v < vecs; v += kThreads) out_row[v] = Load8(src, v).bits;
    return;
  }
  const __nv_bfloat16* own = sparse + t * a.sparse_row_stride;
  if (a.mode == CorrectionMode::kRecompute) {
    for (int v = threadIdx.x; v < vecs; v += kThreads) out_row[v] = Load8(own, v).bits;
    return;
  }
  const int anchor = a.plan.anchor_of(pos);
  // The correction dense[a] - sparse[a] in fp32, or as carried when a precedes the chunk.
  const bool carried = anchor < a.plan.start;
  const __nv_bfloat16* anchor_dense = carried ? static_cast<const __nv_bfloat16*>(a.carry)
                                              : dense + a.plan.dense_row_of(anchor) * a.dense_row_stride;
  const __nv_bfloat16* anchor_sparse = carried ? nullptr : sparse + (anchor - a.plan.start) * a.sparse_row_stride;
  for (int v = threadIdx.x; v < vecs; v += kThreads) {
    const Bf16x8 x = Load8(own, v);
    const Bf16x8 ds = Load8(anchor_dense, v);
    float correction[8];
    for (int i = 0; i < 8; ++i) correction[i] = ds[i];
    if (!carried) {
      const Bf16x8 sp = Load8(anchor_sparse, v);
      for (int i = 0; i < 8; ++i) correction[i] -= sp[i];
    }
    uint4 result;
    auto* r = reinterpret_cast<__nv_bfloat162*>(&result);
    for (int i = 0; i < 4; ++i) {
      r[i] = __floats2bfloat162_rn(x[2 * i] + correction[2 * i], x[2 * i + 1] + correction[2 * i + 1]);
    }
    out_row[v] = result;
  }
}

}  // namespace

cudaError_t DeltaCombine(const DeltaCombineArgs& a, cudaStream_t stream) {
  const DeltaChunkPlan& plan = a.plan;
  // A chunk off the grid below prefix_end opens with rows of an earlier anchor: plain
  // sparse rows in recompute mode, rows that need the carry in delta mode.
  if (!a.sparse || !a.dense || !a.out || a.out == a.sparse || plan.lambda <= 0 || plan.len < 0 ||
      a.row_elems <= 0 || a.row_elems % 8 != 0 || a.sparse_row_stride % 8 != 0 ||
      a.dense_row_stride % 8 != 0 || a.out_row_stride % 8 != 0 ||
      (a.mode == CorrectionMode::kDelta && !a.carry && plan.prefix_end > plan.start &&
       plan.start % plan.lambda != 0)) {
    return cudaErrorInvalidValue;
  }
  if (plan.len == 0) return cudaSuccess;
  DeltaCombineKernel<<<plan.len, kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace deltaserve::kernels
