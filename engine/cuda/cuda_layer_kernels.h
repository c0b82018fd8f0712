#pragma once

#include "engine/model/layer_kernels.h"

namespace deltaserve {

// RMSNorm and SiLU·mul as our CUDA kernels (bf16 in and out, fp32 math) on the current
// stream. Rows must be contiguous in their last dimension; hidden and ffn sizes multiples
// of 8 (BuildCudaModel checks the model).
class CudaLayerKernels final : public LayerKernels {
 public:
  explicit CudaLayerKernels(double rms_norm_eps) : eps_(static_cast<float>(rms_norm_eps)) {}
  at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight) const override;
  at::Tensor SiluMul(const at::Tensor& gate_up) const override;

 private:
  float eps_;
};

}  // namespace deltaserve
