// Which rows of one prefill chunk need dense attention under Delta Attention, and where
// they sit in the dense output. Shared by host code (to gather the anchor rows) and the
// combine kernel (to find them), so the two can never disagree.
//
// A chunk covers absolute positions [start, start + len) of a prompt of prompt_len tokens.
// prefix_end = prompt_len - (prompt_len % lambda + max(128, lambda)) (s_p in DESIGN.md).
// Dense rows, in order: the anchors (multiples of lambda in [start, min(start+len,
// prefix_end))), then the tail positions [max(start, prefix_end), start + len).
#pragma once

#if defined(__CUDACC__)
#define DS_HOST_DEVICE __host__ __device__
#else
#define DS_HOST_DEVICE
#endif

namespace deltaserve::kernels {

struct DeltaChunkPlan {
  int start = 0;
  int len = 0;
  int lambda = 1;
  int prefix_end = 0;    // positions below use sparse + correction; may be <= 0
  int first_anchor = 0;  // first multiple of lambda >= start
  int num_anchors = 0;
  int tail_begin = 0;    // first dense tail position of the chunk

  DS_HOST_DEVICE int num_dense_rows() const { return num_anchors + (start + len - tail_begin); }

  // Position of dense row r.
  DS_HOST_DEVICE int dense_row_position(int r) const {
    return r < num_anchors ? first_anchor + r * lambda : tail_begin + (r - num_anchors);
  }

  // Dense row that holds position pos (an anchor or a tail position of this chunk).
  DS_HOST_DEVICE int dense_row_of(int pos) const {
    return pos >= tail_begin ? num_anchors + (pos - tail_begin) : (pos - first_anchor) / lambda;
  }

  // Anchor that corrects position pos < prefix_end.
  DS_HOST_DEVICE int anchor_of(int pos) const { return pos / lambda * lambda; }
};

DS_HOST_DEVICE inline DeltaChunkPlan MakeDeltaChunkPlan(int start, int len, int prompt_len,
                                                        int lambda) {
  DeltaChunkPlan plan;
  plan.start = start;
  plan.len = len;
  plan.lambda = lambda;
  const int cut = prompt_len % lambda + (lambda > 128 ? lambda : 128);
  plan.prefix_end = prompt_len - cut;
  plan.first_anchor = (start + lambda - 1) / lambda * lambda;
  const int anchor_end = plan.prefix_end < start + len ? plan.prefix_end : start + len;
  plan.num_anchors =
      anchor_end > plan.first_anchor ? (anchor_end - plan.first_anchor + lambda - 1) / lambda : 0;
  plan.tail_begin = plan.prefix_end > start ? plan.prefix_end : start;
  if (plan.tail_begin > start + len) plan.tail_begin = start + len;
  return plan;
}

}  // namespace deltaserve::kernels
