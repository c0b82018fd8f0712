#include "engine/cuda/cuda_layer_kernels.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/rms_norm.h"
#include "kernels/silu_mul.h"

namespace deltaserve {

at::Tensor CudaLayerKernels::RmsNorm(const at::Tensor& x, const at::Tensor& weight) const {
  at::Tensor out = at::empty({x.size(0), x.size(1)}, x.options());
  kernels::RmsNormArgs args;
  args.input = x.data_ptr();
  args.input_row_stride = x.stride(0);
  args.weight = weight.data_ptr();
  args.out = out.data_ptr();
  args.out_row_stride = out.stride(0);
  args.rows = static_cast<int>(x.size(0));
  args.hidden = static_cast<int>(x.size(1));
  args.eps = eps_;
  const cudaError_t error = kernels::RmsNorm(args, c10::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(error == cudaSuccess, "RmsNorm kernel (", args.rows, " rows of ", args.hidden,
              "): ", cudaGetErrorString(error));
  return out;
}

at::Tensor CudaLayerKernels::SiluMul(const at::Tensor& gate_up) const {
  const int64_t ffn = gate_up.size(1) / 2;
  at::Tensor out = at::empty({gate_up.size(0), ffn}, gate_up.options());
  kernels::SiluMulArgs args;
  args.gate_up = gate_up.data_ptr();
  args.gate_up_row_stride = gate_up.stride(0);
  args.out = out.data_ptr();
  args.out_row_stride = out.stride(0);
  args.rows = static_cast<int>(gate_up.size(0));
  args.intermediate = static_cast<int>(ffn);
  const cudaError_t error = kernels::SiluMul(args, c10::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(error == cudaSuccess, "SiluMul kernel (", args.rows, " rows of ", ffn, "): ", cudaGetErrorString(error));
  return out;
}

}  // namespace deltaserve
