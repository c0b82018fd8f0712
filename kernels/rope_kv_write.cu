#include "kernels/rope_kv_write.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace deltaserve::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWideRun = 8;  // 8 bf16: one 16-byte access

// kRun consecutive bf16 moved as one access of 2 * kRun bytes.
template <int kRun>
struct alignas(2 * kRun) Bf16Run {
  __nv_bfloat16 x[kRun];
};

template <int kRun>
__device__ Bf16Run<kRun> LoadRun(const __nv_bfloat16* p) {
  return *reinterpret_cast<const Bf16Run<kRun>*>(p);
}

template <int kRun>
__device__ void StoreRun(__nv_bfloat16* p, const Bf16Run<kRun>& run) {
  *reinterpret_cast<Bf16Run<kRun>*>(p) = run;
}

// Rotates i in [run * kRun, run * kRun + kRun) and their partners i + half. Both halves are
// loaded before either is stored, so src may equal dst (q is rotated in place).
template <int kRun>
__device__ void Rotate(const __nv_bfloat16* src, __nv_bfloat16* dst, int run, int runs,
                       const float2* cos_sin) {
  const int i = run * kRun;
  const int half = runs * kRun;
  const Bf16Run<kRun> x1 = LoadRun<kRun>(src + i);
  const Bf16Run<kRun> x2 = LoadRun<kRun>(src + i + half);
  Bf16Run<kRun> y1;
  Bf16Run<kRun> y2;
#pragma unroll
  for (int j = 0; j < kRun; ++j) {
    const float2 cs = cos_sin[j * runs + run];
    const float a = __bfloat162float(x1.x[j]);
    const float b = __bfloat162float(x2.x[j]);
    y1.x[j] = __float2bfloat16(a * cs.x - b * cs.y);
    y2.x[j] = __float2bfloat16(b * cs.x + a * cs.y);
  }
  StoreRun<kRun>(dst + i, y1);
  StoreRun<kRun>(dst + i + half, y2);
}

// One block per token; a thread moves kRun consecutive elements at a time (16 bytes when
// the launcher found every access aligned for it, else one element).
template <int kRun>
__global__ void __launch_bounds__(kThreads) RopeKvWriteKernel(RopeKvWriteArgs a) {
  // (cos, sin) of angle i at [i % kRun][i / kRun]: the threads of a warp hold consecutive
  // runs, so at each step j of Rotate they read consecutive words, free of bank conflicts.
  extern __shared__ float2 cos_sin[];
  const std::int64_t token = blockIdx.x;
  const int half = a.head_dim / 2;
  const int runs = half / kRun;
  const float pos = static_cast<float>(a.positions[token]);
  // The angle depends on (token, i) alone; computing it once per i rather than per head and
  // i matters because positions past ~1e5 rad take sincosf's slow argument reduction.
  for (int i = threadIdx.x; i < half; i += kThreads) {
    float2 cs;
    sincosf(pos * a.inv_freq[i], &cs.y, &cs.x);
    cos_sin[(i % kRun) * runs + i / kRun] = cs;
  }
  __syncthreads();

  const int slot = a.slot_mapping[token];
  const std::int64_t cache_offset =
      slot < 0 ? 0 : (slot / a.block_size) * a.block_stride + (slot % a.block_size) * a.token_stride;
  auto* q = static_cast<__nv_bfloat16*>(a.q.data) + token * a.q.row_stride;
  const auto* k = static_cast<const __nv_bfloat16*>(a.k.data) + token * a.k.row_stride;
  const auto* v = static_cast<const __nv_bfloat16*>(a.v.data) + token * a.v.row_stride;
  auto* k_cache = static_cast<__nv_bfloat16*>(a.k_cache) + cache_offset;
  auto* v_cache = static_cast<__nv_bfloat16*>(a.v_cache) + cache_offset;
  const int rotations = (a.num_heads + a.num_kv_heads) * runs;
  for (int idx = threadIdx.x; idx < rotations; idx += kThreads) {
    const int head = idx / runs;
    const int run = idx % runs;
    if (head < a.num_heads) {
      __nv_bfloat16* row = q + head * a.q.head_stride;
      Rotate<kRun>(row, row, run, runs, cos_sin);
    } else if (slot >= 0) {
      const int kv_head = head - a.num_heads;
      Rotate<kRun>(k + kv_head * a.k.head_stride, k_cache + kv_head * a.head_stride, run, runs, cos_sin);
    }
  }
  if (slot < 0) return;
  const int v_runs = a.head_dim / kRun;
  for (int idx = threadIdx.x; idx < a.num_kv_heads * v_runs; idx += kThreads) {
    const int kv_head = idx / v_runs;
    const int c = idx % v_runs * kRun;
    StoreRun<kRun>(v_cache + kv_head * a.head_stride + c, LoadRun<kRun>(v + kv_head * a.v.head_stride + c));
  }
}

bool AlignedAddress(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }
bool AlignedStride(std::int64_t elements) { return elements % kWideRun == 0; }
bool AlignedRows(const RowTensor& t) {
  return AlignedAddress(t.data) && AlignedStride(t.row_stride) && AlignedStride(t.head_stride);
}

// 16-byte runs need every row, head, half-head and cache slot to start 16-byte aligned.
bool WideRunsFit(const RopeKvWriteArgs& a) {
  return AlignedStride(a.head_dim / 2) && AlignedRows(a.q) && AlignedRows(a.k) && AlignedRows(a.v) &&
         AlignedAddress(a.k_cache) && AlignedAddress(a.v_cache) && AlignedStride(a.block_stride) &&
         AlignedStride(a.token_stride) && AlignedStride(a.head_stride);
}

template <int kRun>
cudaError_t Launch(const RopeKvWriteArgs& a, cudaStream_t stream) {
  const std::size_t shared_bytes = static_cast<std::size_t>(a.head_dim / 2) * sizeof(float2);
  RopeKvWriteKernel<kRun><<<a.num_tokens, kThreads, shared_bytes, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

cudaError_t RopeKvWrite(const RopeKvWriteArgs& a, cudaStream_t stream) {
  if (!a.q.data || !a.k.data || !a.v.data || !a.positions || !a.inv_freq || !a.slot_mapping ||
      !a.k_cache || !a.v_cache || a.num_tokens < 0 || a.num_heads <= 0 || a.num_kv_heads <= 0 ||
      a.head_dim <= 0 || a.head_dim % 2 != 0 || a.block_size <= 0) {
    return cudaErrorInvalidValue;
  }
  if (a.num_tokens == 0) return cudaSuccess;
  return WideRunsFit(a) ? Launch<kWideRun>(a, stream) : Launch<1>(a, stream);
}

}  // namespace deltaserve::kernels
