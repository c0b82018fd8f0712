#include "kernels/silu_mul.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace deltaserve::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void SiluMulKernel(SiluMulArgs a) {
  const std::int64_t row = blockIdx.x;
  const auto* gate = reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(a.gate_up) + row * a.gate_up_row_stride);
  const uint4* up = gate + a.intermediate / 8;
  auto* out = reinterpret_cast<uint4*>(static_cast<__nv_bfloat16*>(a.out) + row * a.out_row_stride);
  const int v = static_cast<int>(blockIdx.y * kThreads + threadIdx.x);
  if (v >= a.intermediate / 8) return;
  const uint4 g_bits = gate[v];
  const uint4 u_bits = up[v];
  const auto* g = reinterpret_cast<const __nv_bfloat162*>(&g_bits);
  const auto* u = reinterpret_cast<const __nv_bfloat162*>(&u_bits);
  uint4 result;
  auto* r = reinterpret_cast<__nv_bfloat162*>(&result);
  for (int i = 0; i < 4; ++i) {
    const float2 gf = __bfloat1622float2(g[i]);
    const float2 uf = __bfloat1622float2(u[i]);
    r[i] = __floats2bfloat162_rn(gf.x / (1.f + __expf(-gf.x)) * uf.x,
                                 gf.y / (1.f + __expf(-gf.y)) * uf.y);
  }
  out[v] = result;
}

}  // namespace

cudaError_t SiluMul(const SiluMulArgs& a, cudaStream_t stream) {
  if (!a.gate_up || !a.out || a.rows < 0 || a.intermediate <= 0 ||
      a.intermediate % 8 != 0 || a.gate_up_row_stride % 8 != 0 || a.out_row_stride % 8 != 0) {
    return cudaErrorInvalidValue;
  }
  if (a.rows == 0) return cudaSuccess;
  const dim3 grid(a.rows, (a.intermediate / 8 + kThreads - 1) / kThreads);
  SiluMulKernel<<<grid, kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace deltaserve::kernels
