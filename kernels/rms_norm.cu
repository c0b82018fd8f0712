#include "kernels/rms_norm.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace deltaserve::kernels {
namespace {

constexpr int kThreads = 256;

__device__ float BlockSum(float value) {
  __shared__ float warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = value;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
  return total;
}

__global__ void RmsNormKernel(RmsNormArgs a) {
  const std::int64_t row = blockIdx.x;
  const auto* input = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(a.input) + row * a.input_row_stride);
  auto* residual = a.residual ? reinterpret_cast<uint4*>(static_cast<__nv_bfloat16*>(a.residual) + row * a.residual_row_stride) : nullptr;
  const auto* weight = reinterpret_cast<const uint4*>(a.weight);
  auto* out = reinterpret_cast<uint4*>(static_cast<__nv_bfloat16*>(a.out) + row * a.out_row_stride);
  const int vecs = a.hidden / 8;
  float sum_sq = 0.f;
  for (int v = threadIdx.x; v < vecs; v += kThreads) {
    uint4 bits = input[v];
    if (residual) {
      const uint4 r = residual[v];
      auto* x = reinterpret_cast<__nv_bfloat162*>(&bits);
      const auto* y = reinterpret_cast<const __nv_bfloat162*>(&r);
      for (int i = 0; i < 4; ++i) {
        x[i] = __floats2bfloat162_rn(__low2float(x[i]) + __low2float(y[i]),
                                     __high2float(x[i]) + __high2float(y[i]));
      }
      residual[v] = bits;  // each thread re-reads only its own vectors below
    }
    const auto* x = reinterpret_cast<const __nv_bfloat162*>(&bits);
    for (int i = 0; i < 4; ++i) {
      const float2 f = __bfloat1622float2(x[i]);
      sum_sq += f.x * f.x + f.y * f.y;
    }
  }
  const float inv_rms = rsqrtf(BlockSum(sum_sq) / static_cast<float>(a.hidden) + a.eps);
  const uint4* normed = residual ? residual : input;
  for (int v = threadIdx.x; v < vecs; v += kThreads) {
    const uint4 bits = normed[v];
    const uint4 w = weight[v];
    uint4 result;
    const auto* x = reinterpret_cast<const __nv_bfloat162*>(&bits);
    const auto* g = reinterpret_cast<const __nv_bfloat162*>(&w);
    auto* r = reinterpret_cast<__nv_bfloat162*>(&result);
    for (int i = 0; i < 4; ++i) {
      const float2 xf = __bfloat1622float2(x[i]);
      const float2 gf = __bfloat1622float2(g[i]);
      r[i] = __floats2bfloat162_rn(xf.x * inv_rms * gf.x, xf.y * inv_rms * gf.y);
    }
    out[v] = result;
  }
}

}  // namespace

cudaError_t RmsNorm(const RmsNormArgs& a, cudaStream_t stream) {
  if (!a.input || !a.weight || !a.out || a.rows < 0 || a.hidden <= 0 || a.hidden % 8 != 0 ||
      a.input_row_stride % 8 != 0 || a.out_row_stride % 8 != 0 ||
      (a.residual && a.residual_row_stride % 8 != 0) || !(a.eps >= 0.f)) {
    return cudaErrorInvalidValue;
  }
  if (a.rows == 0) return cudaSuccess;
  RmsNormKernel<<<a.rows, kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace deltaserve::kernels
