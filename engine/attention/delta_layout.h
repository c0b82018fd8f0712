#pragma once

#include <cstdint>
#include <vector>

namespace deltaserve {

// Where delta / recompute prefill puts its dense queries in a prompt of length s
// (DESIGN.md): anchors every lambda positions on the absolute grid before
// s_p = s - (s % lambda + max(128, lambda)), then a dense tail [s_p, s).
class DeltaLayout {
 public:
  DeltaLayout(int64_t prompt_len, int64_t lambda);

  // s_p clamped at 0: queries before it are sparse, the rest of the prompt is dense.
  int64_t sparse_end() const { return sparse_end_; }
  int64_t lambda() const { return lambda_; }
  int64_t GroupOf(int64_t position) const { return position / lambda_; }
  int64_t AnchorOf(int64_t position) const { return GroupOf(position) * lambda_; }

  // Anchors in [begin, end) that lie before sparse_end(), ascending.
  std::vector<int64_t> AnchorsIn(int64_t begin, int64_t end) const;

  // Probe queries in [begin, end): the middle of every round(1 / probe_fraction)-th group,
  // if it lies before sparse_end() and is not the anchor itself (lambda 1). Ascending.
  std::vector<int64_t> ProbesIn(int64_t begin, int64_t end, double probe_fraction) const;

 private:
  int64_t lambda_;
  int64_t sparse_end_;
};

}  // namespace deltaserve
