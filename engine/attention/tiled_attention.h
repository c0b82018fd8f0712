#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "engine/attention/key_visibility.h"

namespace deltaserve {

// Query rows per block: bounds the working set of one block to
// H x kQueryBlock x kKeyTile scores whatever the prompt length.
inline constexpr int64_t kQueryBlock = 128;
// Keys per tile. A query wastes at most one partial tile at each edge of its visible key
// range (the causal diagonal, the lower edge of the window), so work stays within
// 2 * kKeyTile scores per query of what the rule makes visible.
inline constexpr int64_t kKeyTile = 128;

// Keys and values of one sequence laid out head-major once per call, [Hkv, S, d], so that
// every tile is a contiguous slice.
struct HeadMajorKv {
  at::Tensor keys;
  at::Tensor values;

  static HeadMajorKv From(const at::Tensor& k, const at::Tensor& v);
};

// Attention of the queries at ascending absolute `positions` (q holds the queries of
// positions [start, start + q.size(0))) over the keys `visibility` lets each of them see,
// by online softmax over key tiles: a tile is computed only for the rows that see part
// of it, and only edge tiles are masked. Returns [positions.size(), H, d] and adds the
// number of query-key scores computed per query head to *score_pairs.
at::Tensor AttendPositions(const at::Tensor& q, int64_t start, const std::vector<int64_t>& positions,
                           const HeadMajorKv& kv, KeyVisibility visibility, int64_t* score_pairs);

}  // namespace deltaserve
