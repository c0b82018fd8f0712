#include "kernels/rope_kv_write.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace deltaserve::kernels {
namespace {

constexpr int kThreads = 256;

__device__ void Rotate(const __nv_bfloat16* src, __nv_bfloat16* dst, int i, int half, float cos_a,
                       float sin_a) {
  const float x1 = __bfloat162float(src[i]);
  const float x2 = __bfloat162float(src[i + half]);
  dst[i] = __float2bfloat16(x1 * cos_a - x2 * sin_a);
  dst[i + half] = __float2bfloat16(x2 * cos_a + x1 * sin_a);
}

__global__ void RopeKvWriteKernel(RopeKvWriteArgs a) {
  const std::int64_t token = blockIdx.x;
  const int half = a.head_dim / 2;
  const float pos = static_cast<float>(a.positions[token]);
  const int slot = a.slot_mapping[token];
  const std::int64_t cache_offset =
      slot < 0 ? 0 : (slot / a.block_size) * a.block_stride + (slot % a.block_size) * a.token_stride;
  auto* q = static_cast<__nv_bfloat16*>(a.q.data) + token * a.q.row_stride;
  const auto* k = static_cast<const __nv_bfloat16*>(a.k.data) + token * a.k.row_stride;
  const auto* v = static_cast<const __nv_bfloat16*>(a.v.data) + token * a.v.row_stride;
  auto* k_cache = static_cast<__nv_bfloat16*>(a.k_cache) + cache_offset;
  auto* v_cache = static_cast<__nv_bfloat16*>(a.v_cache) + cache_offset;
  const int rotations = (a.num_heads + a.num_kv_heads) * half;
  for (int idx = threadIdx.x; idx < rotations; idx += kThreads) {
    const int head = idx / half;
    const int i = idx % half;
    float sin_a;
    float cos_a;
    sincosf(pos * a.inv_freq[i], &sin_a, &cos_a);
    if (head < a.num_heads) {
      __nv_bfloat16* row = q + head * a.q.head_stride;
      Rotate(row, row, i, half, cos_a, sin_a);
    } else if (slot >= 0) {
      const int kv_head = head - a.num_heads;
      Rotate(k + kv_head * a.k.head_stride, k_cache + kv_head * a.head_stride, i, half, cos_a, sin_a);
    }
  }
  if (slot < 0) return;
  for (int idx = threadIdx.x; idx < a.num_kv_heads * a.head_dim; idx += kThreads) {
    const int kv_head = idx / a.head_dim;
    const int c = idx % a.head_dim;
    v_cache[kv_head * a.head_stride + c] = v[kv_head * a.v.head_stride + c];
  }
}

}  // namespace

cudaError_t RopeKvWrite(const RopeKvWriteArgs& a, cudaStream_t stream) {
  if (!a.q.data || !a.k.data || !a.v.data || !a.positions || !a.inv_freq || !a.slot_mapping ||
      !a.k_cache || !a.v_cache || a.num_tokens < 0 || a.num_heads <= 0 || a.num_kv_heads <= 0 ||
      a.head_dim <= 0 || a.head_dim % 2 != 0 || a.block_size <= 0) {
    return cudaErrorInvalidValue;
  }
  if (a.num_tokens == 0) return cudaSuccess;
  RopeKvWriteKernel<<<a.num_tokens, kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace deltaserve::kernels
