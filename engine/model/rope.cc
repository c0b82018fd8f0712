#include "engine/model/rope.h"

#include <ATen/ATen.h>

#include <cmath>

namespace deltaserve {
namespace {

at::Tensor DefaultInverseFrequencies(int64_t head_dim, double theta) {
  // transformers: 1 / base ** (arange(0, dim, 2, int64).float() / dim), in float32.
  at::Tensor exponents = at::arange(0, head_dim, 2, at::kLong).to(at::kFloat).div(static_cast<double>(head_dim));
  return at::pow(at::Scalar(theta), exponents).reciprocal();
}

// transformers' _compute_llama3_parameters: long wavelengths are slowed by `factor`,
// short ones kept, the band between interpolated smoothly.
at::Tensor Llama3Scale(const at::Tensor& inv_freq, const RopeScaling& scaling) {
  const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / scaling.low_freq_factor;
  const double high_freq_wavelen = old_context / scaling.high_freq_factor;
  at::Tensor wavelen = inv_freq.reciprocal().mul(2 * M_PI);
  at::Tensor scaled = at::where(wavelen.gt(low_freq_wavelen), inv_freq.div(scaling.factor), inv_freq);
  at::Tensor smooth = wavelen.reciprocal().mul(old_context).sub(scaling.low_freq_factor)
                          .div(scaling.high_freq_factor - scaling.low_freq_factor);
  at::Tensor smoothed = smooth.neg().add(1).mul(scaled).div(scaling.factor).add(smooth.mul(scaled));
  at::Tensor is_medium = wavelen.lt(high_freq_wavelen).logical_not().logical_and(
      wavelen.gt(low_freq_wavelen).logical_not());
  return at::where(is_medium, smoothed, scaled);
}

at::Tensor RotateHalf(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({x.slice(-1, half).neg(), x.slice(-1, 0, half)}, -1);
}

}  // namespace

at::Tensor RopeInverseFrequencies(const ModelConfig& config) {
  at::Tensor inv_freq = DefaultInverseFrequencies(config.head_dim, config.rope_theta);
  switch (config.rope_scaling.type) {
    case RopeType::kDefault: return inv_freq;
    case RopeType::kLinear: return inv_freq.div(config.rope_scaling.factor);
    case RopeType::kLlama3: return Llama3Scale(inv_freq, config.rope_scaling);
  }
  return inv_freq;
}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config) : inv_freq_(RopeInverseFrequencies(config)) {}

void RotaryEmbedding::Apply(at::Tensor& q, at::Tensor& k, const at::Tensor& positions) const {
  at::Tensor freqs = positions.to(at::kFloat).unsqueeze(1).mul(inv_freq_.unsqueeze(0));  // [T, d/2]
  at::Tensor angles = at::cat({freqs, freqs}, -1).unsqueeze(1);                          // [T, 1, d]
  at::Tensor cos = angles.cos();
  at::Tensor sin = angles.sin();
  q = q.mul(cos).add_(RotateHalf(q).mul_(sin));
  k = k.mul(cos).add_(RotateHalf(k).mul_(sin));
}

}  // namespace deltaserve
