#include "engine/attention/delta_layout.h"

#include <algorithm>
#include <cmath>

namespace deltaserve {

DeltaLayout::DeltaLayout(int64_t prompt_len, int64_t lambda)
    : lambda_(lambda),
      sparse_end_(std::max<int64_t>(0, prompt_len - (prompt_len % lambda + std::max<int64_t>(128, lambda)))) {}

std::vector<int64_t> DeltaLayout::AnchorsIn(int64_t begin, int64_t end) const {
  std::vector<int64_t> anchors;
  const int64_t first = (std::max<int64_t>(begin, 0) + lambda_ - 1) / lambda_ * lambda_;
  for (int64_t anchor = first; anchor < std::min(end, sparse_end_); anchor += lambda_) {
    anchors.push_back(anchor);
  }
  return anchors;
}

std::vector<int64_t> DeltaLayout::ProbesIn(int64_t begin, int64_t end, double probe_fraction) const {
  std::vector<int64_t> probes;
  const int64_t offset = lambda_ / 2;
  if (probe_fraction <= 0.0 || offset == 0) return probes;
  const int64_t stride = std::max<int64_t>(1, std::llround(1.0 / probe_fraction));
  const int64_t first_group = std::max<int64_t>(0, begin - offset + lambda_ - 1) / lambda_;
  const int64_t first_probed_group = (first_group + stride - 1) / stride * stride;
  for (int64_t probe = first_probed_group * lambda_ + offset; probe < std::min(end, sparse_end_);
       probe += stride * lambda_) {
    probes.push_back(probe);
  }
  return probes;
}

}  // namespace deltaserve
