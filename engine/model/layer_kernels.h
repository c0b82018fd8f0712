#pragma once

#include <ATen/core/Tensor.h>

namespace deltaserve {

// The normalisation and activation steps of a decoder layer, which each device computes
// its own way: the CPU with ATen in float32, CUDA with fused kernels in bf16.
class LayerKernels {
 public:
  virtual ~LayerKernels() = default;
  // rmsnorm(x) * weight. The residual add is not here: the O and down projections do it
  // in their GEMMs (LlamaModel).
  virtual at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight) const = 0;
  // gate_up [T, 2 ffn] (gate, then up) -> silu(gate) * up [T, ffn].
  virtual at::Tensor SiluMul(const at::Tensor& gate_up) const = 0;
};

// transformers' LlamaRMSNorm and SiLU in float32.
class CpuLayerKernels final : public LayerKernels {
 public:
  explicit CpuLayerKernels(double rms_norm_eps) : eps_(rms_norm_eps) {}
  at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight) const override;
  at::Tensor SiluMul(const at::Tensor& gate_up) const override;

 private:
  double eps_;
};

}  // namespace deltaserve
