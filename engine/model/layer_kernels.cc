#include "engine/model/layer_kernels.h"

#include <ATen/ATen.h>

namespace deltaserve {

at::Tensor CpuLayerKernels::RmsNorm(const at::Tensor& x, const at::Tensor& weight) const {
  const at::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  return x.mul(at::rsqrt(variance.add(eps_))).mul_(weight);
}

at::Tensor CpuLayerKernels::SiluMul(const at::Tensor& gate_up) const {
  const int64_t ffn = gate_up.size(1) / 2;
  return at::silu(gate_up.slice(1, 0, ffn)).mul_(gate_up.slice(1, ffn));
}

}  // namespace deltaserve
