#include "tests/engine/attention/reference_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace deltaserve::reference {
namespace {

// mask[i][j] = key j visible to query i under j <= i and (j < sink or j > i - window).
at::Tensor VisibilityMask(int64_t positions, int64_t sink, int64_t window) {
  at::Tensor mask = at::zeros({positions, positions}, at::kBool);
  auto visible = mask.accessor<bool, 2>();
  for (int64_t i = 0; i < positions; ++i) {
    for (int64_t j = 0; j <= i; ++j) visible[i][j] = j < sink || j > i - window;
  }
  return mask;
}

at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  const int64_t heads = q.size(1);
  const int64_t group = heads / k.size(1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(2)));
  at::Tensor out = at::empty(q.sizes(), at::kDouble);
  for (int64_t h = 0; h < heads; ++h) {
    const at::Tensor qh = q.select(1, h).to(at::kDouble);
    const at::Tensor kh = k.select(1, h / group).to(at::kDouble);
    const at::Tensor vh = v.select(1, h / group).to(at::kDouble);
    const at::Tensor scores =
        at::matmul(qh, kh.t()).mul(scale).masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
    out.select(1, h).copy_(at::matmul(at::softmax(scores, -1), vh));
  }
  return out;
}

}  // namespace

ReferenceRows DenseAndSparse(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t sink,
                             int64_t window) {
  const int64_t positions = q.size(0);
  return {Attend(q, k, v, VisibilityMask(positions, 0, positions + 1)),
          Attend(q, k, v, VisibilityMask(positions, sink, window))};
}

int64_t SparseEnd(int64_t prompt_len, int64_t lambda) {
  return prompt_len - (prompt_len % lambda + std::max<int64_t>(128, lambda));
}

at::Tensor Prefill(const ReferenceRows& rows, int64_t prompt_len, const AttentionConfig& config) {
  const int64_t positions = rows.dense.size(0);
  const int64_t lambda = config.lambda;
  const int64_t sparse_end = SparseEnd(prompt_len, lambda);
  at::Tensor out = rows.dense.clone();
  for (int64_t i = 0; i < std::min(positions, prompt_len); ++i) {
    const int64_t anchor = i / lambda * lambda;
    switch (config.mode) {
      case AttentionMode::kDense:
        break;
      case AttentionMode::kSparse:
        out[i].copy_(rows.sparse[i]);
        break;
      case AttentionMode::kRecompute:
        if (i < sparse_end && i != anchor) out[i].copy_(rows.sparse[i]);
        break;
      case AttentionMode::kDelta:
        if (i < sparse_end) out[i].copy_(rows.sparse[i] + rows.dense[anchor] - rows.sparse[anchor]);
        break;
    }
  }
  return out;
}

double RelativeError(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor e = expected.to(at::kDouble);
  return (actual.to(at::kDouble) - e).norm().item<double>() / e.norm().item<double>();
}

double MeanHeadCosine(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.to(at::kDouble);
  const at::Tensor y = b.to(at::kDouble);
  return ((x * y).sum(-1) / (x.norm(2, -1) * y.norm(2, -1))).mean().item<double>();
}

int64_t VisibleKeys(int64_t i, int64_t sink, int64_t window) {
  int64_t count = 0;
  for (int64_t j = 0; j <= i; ++j) count += (j < sink || j > i - window) ? 1 : 0;
  return count;
}

}  // namespace deltaserve::reference
