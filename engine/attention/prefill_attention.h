#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "engine/attention/attention_config.h"
#include "engine/attention/key_visibility.h"
#include "engine/attention/tiled_attention.h"

namespace deltaserve {

// Work done by PrefillAttention calls, counted in query-key scores per query head
// (FLOPs = 4 * d * H * pairs). Scores of edge tiles that the mask then hides are
// included: this is what was computed, not what was visible. Calls add to it.
struct AttentionCost {
  int64_t dense_queries = 0;
  int64_t dense_score_pairs = 0;
  int64_t sparse_queries = 0;
  int64_t sparse_score_pairs = 0;

  void Add(const AttentionCost& other) {
    dense_queries += other.dense_queries;
    dense_score_pairs += other.dense_score_pairs;
    sparse_queries += other.sparse_queries;
    sparse_score_pairs += other.sparse_score_pairs;
  }
};

// Accuracy that delta / recompute prefill measures on the side; each value is a cosine
// similarity averaged over query heads. Calls append.
struct AttentionTelemetry {
  std::vector<double> anchor_sparse;  // cos(sparse[a], dense[a]) at every anchor a
  std::vector<double> probe_sparse;   // cos(sparse[m], dense[m]) at every probe m
  std::vector<double> probe_delta;    // cos(delta[m], dense[m]) at every probe m (delta mode)

  // Cosines computed on a GPU and not read back yet: reading each at once would stall the
  // device three times per layer and sequence. ReadBackTelemetry appends them.
  struct Pending {
    std::vector<double> AttentionTelemetry::*into;
    at::Tensor values;  // [n] on the device
  };
  std::vector<Pending> pending;
};

// Appends every pending cosine of `telemetries` to its vector, with one device-to-host copy.
void ReadBackTelemetry(const std::vector<AttentionTelemetry*>& telemetries);

// What delta mode hands from one prefill chunk to the next of the same sequence and
// layer: the correction dense[a] - sparse[a] of the last anchor a computed so far. The
// first rows of a chunk that does not start on the anchor grid belong to an anchor of an
// earlier chunk, whose query is not cached, so the correction itself is carried.
struct DeltaCarry {
  int64_t anchor = -1;
  at::Tensor correction;  // [H, d]
};

// Optional companions of one call; every pointer may be null.
struct PrefillAttentionExtras {
  // Read when the chunk starts inside an anchor group of the sparse region (delta mode),
  // written whenever the chunk computes an anchor.
  DeltaCarry* carry = nullptr;
  // Filled at once on the CPU; on a GPU the cosines wait in telemetry->pending.
  AttentionTelemetry* telemetry = nullptr;
  AttentionCost* cost = nullptr;
};

// One set of a chunk's queries to attend: those at `positions` (ascending, inside the
// call's range) under `visibility`, written into `rows` [positions.size(), H, d], which may
// be a slice of the caller's output; the query-key scores computed are added to
// *score_pairs when it counts them.
struct AttendRequest {
  const std::vector<int64_t>* positions;
  KeyVisibility visibility;
  at::Tensor rows;
  int64_t* score_pairs;
};

// Attends every request of a chunk; the device supplies it: the CPU tiles in float32, the
// GPU launches the paged kernels, the requests side by side where it can, and orders what
// the caller then does on the device after all of them.
using AttendPositionsFn = std::function<void(const std::vector<AttendRequest>& requests)>;

// The CPU's attender: AttendPositions over `q` (the queries of positions [start, ..)) and
// `kv`, one request after the other. Keeps references to both.
AttendPositionsFn TiledAttender(const at::Tensor& q, int64_t start, const HeadMajorKv& kv);

// A device's one-pass delta / recompute combine (kernels::DeltaCombine on CUDA): writes
// `out`, all rows of the chunk, from `sparse`, the rows of its positions before the dense
// tail, `dense`, its dense rows in kernels/delta_plan.h's order (the anchors, then the
// tail), and in delta mode `carry`, the contiguous [H, d] correction of the anchor before
// the chunk that its first rows belong to (undefined when the chunk starts on the grid or
// in recompute mode). Asked only for a chunk with anchors; `sparse` never aliases `out`.
using CombineRowsFn = std::function<void(const at::Tensor& sparse, const at::Tensor& dense, const at::Tensor& carry,
                                         const at::Tensor& out)>;

// One layer's prefill attention for the queries at [start, start + out.size(0)) of one
// sequence, written into `out` [.., H, d], on any device: which rows are sparse, dense,
// anchors and probes, the delta correction (with its carry across chunks) and the
// telemetry, with `attend` doing the attention itself. Sparse and dense rows are written
// straight into `out` where they are one run of it. A delta or recompute chunk with
// anchors combines through `combine_rows` when it is given, otherwise through ATen ops in
// place.
void CombinePrefillAttention(const at::Tensor& out, int64_t start, int64_t prompt_len, const AttentionConfig& config,
                             const PrefillAttentionExtras& extras, const AttendPositionsFn& attend,
                             const CombineRowsFn& combine_rows = nullptr);

// Attention of one layer for one sequence on the CPU, float32.
//   q:    [n, H, d], the queries at absolute positions [start, start + n)
//   k, v: [start + n, Hkv, d], every key and value of the sequence up to the last query
//   prompt_len: the whole prompt's length s; queries at positions >= s are decode
//         queries and are always dense.
// Returns [n, H, d]. GQA: query head h reads KV head h / (H / Hkv). Chunks of one prompt
// give the one-shot result; in delta mode a chunk that starts off the anchor grid inside
// the sparse region needs extras.carry from the previous chunk, and throws c10::Error
// without it (a caller bug, like a shape mismatch).
at::Tensor PrefillAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t start, int64_t prompt_len, const AttentionConfig& config,
                            const PrefillAttentionExtras& extras = {});

}  // namespace deltaserve
