// SwiGLU activation: out[r, i] = silu(gate_up[r, i]) * gate_up[r, intermediate + i], fp32
// math, bf16 in and out (gate and up projections concatenated along the row).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace deltaserve::kernels {

struct SiluMulArgs {
  const void* gate_up = nullptr;  // [rows, 2 * intermediate]
  std::int64_t gate_up_row_stride = 0;
  void* out = nullptr;  // [rows, intermediate]
  std::int64_t out_row_stride = 0;
  int rows = 0;
  int intermediate = 0;  // a multiple of 8
};

cudaError_t SiluMul(const SiluMulArgs& args, cudaStream_t stream);

}  // namespace deltaserve::kernels
