#include "engine/model/layer_kernels.h"

#include <ATen/ATen.h>

namespace deltaserve {

at::Tensor CpuLayerKernels::AddRmsNorm(const at::Tensor& x, at::Tensor& residual, const at::Tensor& weight) const {
  // A new tensor, not an in-place add: x may alias the embedding output of the batch.
  residual = residual.defined() ? residual.add(x) : x;
  const at::Tensor variance = residual.pow(2).mean(-1, /*keepdim=*/true);
  return residual.mul(at::rsqrt(variance.add(eps_))).mul_(weight);
}

at::Tensor CpuLayerKernels::SiluMul(const at::Tensor& gate_up) const {
  const int64_t ffn = gate_up.size(1) / 2;
  return at::silu(gate_up.slice(1, 0, ffn)).mul_(gate_up.slice(1, ffn));
}

}  // namespace deltaserve
