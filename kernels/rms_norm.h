// RMSNorm over rows of bf16, optionally fused with the residual add that precedes it:
//   residual = bf16(input + residual); out = residual / rms(residual) * weight
// (without residual: out = input / rms(input) * weight), rms in fp32.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace deltaserve::kernels {

struct RmsNormArgs {
  const void* input = nullptr;
  std::int64_t input_row_stride = 0;
  void* residual = nullptr;  // optional; updated in place
  std::int64_t residual_row_stride = 0;
  const void* weight = nullptr;  // [hidden]
  void* out = nullptr;
  std::int64_t out_row_stride = 0;
  int rows = 0;
  int hidden = 0;  // a multiple of 8
  float eps = 1e-5f;
};

cudaError_t RmsNorm(const RmsNormArgs& args, cudaStream_t stream);

}  // namespace deltaserve::kernels
