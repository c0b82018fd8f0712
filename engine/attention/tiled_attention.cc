#include "engine/attention/tiled_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace deltaserve {
namespace {

struct KeyRange {
  int64_t begin;
  int64_t end;
};

// Rows [begin, end) of a block (indices into its ascending positions).
struct RowRange {
  int64_t begin;
  int64_t end;
  int64_t size() const { return end - begin; }
};

// The keys any row of a block sees, as at most two disjoint ranges: the sink part below
// the earliest window, then the window span of the block (which holds any sink keys that
// overlap it, so no key is visited twice).
std::vector<KeyRange> BlockKeyRanges(KeyVisibility visibility, int64_t first_position, int64_t last_position) {
  const int64_t window_begin = visibility.WindowBegin(first_position);
  std::vector<KeyRange> ranges;
  const int64_t sink_end = std::min(visibility.sink, window_begin);
  if (sink_end > 0) ranges.push_back({0, sink_end});
  ranges.push_back({window_begin, last_position + 1});
  return ranges;
}

// The rows that see at least one key of [tile_begin, tile_end): position >= tile_begin
// and, unless the tile starts inside the sink, a window that starts before tile_end.
// Both conditions are monotone in the position, so the rows form one range.
RowRange RowsSeeingTile(KeyVisibility visibility, const std::vector<int64_t>& positions, int64_t tile_begin,
                        int64_t tile_end) {
  const auto lower = std::lower_bound(positions.begin(), positions.end(), tile_begin);
  auto upper = positions.end();
  if (tile_begin >= visibility.sink) {
    upper = std::partition_point(lower, positions.end(), [&](int64_t position) {
      return visibility.WindowBegin(position) < tile_end;
    });
  }
  return {lower - positions.begin(), upper - positions.begin()};
}

// Whether every row in [first_position, last_position] sees every key of the tile, so
// the tile needs no mask.
bool TileFullyVisible(KeyVisibility visibility, int64_t first_position, int64_t last_position,
                      int64_t tile_begin, int64_t tile_end) {
  const bool causal_ok = tile_end - 1 <= first_position;
  const bool in_sink = tile_end <= visibility.sink;
  const bool in_window = tile_begin >= visibility.WindowBegin(last_position);
  return causal_ok && (in_sink || in_window);
}

// [rows, keys] true where the key is hidden from the row.
at::Tensor HiddenKeys(KeyVisibility visibility, const at::Tensor& row_positions, int64_t tile_begin,
                      int64_t tile_end) {
  const at::Tensor keys = at::arange(tile_begin, tile_end, at::kLong).view({1, -1});
  const at::Tensor rows = row_positions.view({-1, 1});
  const at::Tensor window_begin = (rows - visibility.window + 1).clamp_min(0);
  const at::Tensor visible = keys.le(rows).logical_and(keys.lt(visibility.sink).logical_or(keys.ge(window_begin)));
  return visible.logical_not();
}

// Running softmax state of one block: [Hkv, group, rows, 1] max and sum, [.., d] output.
struct OnlineSoftmax {
  at::Tensor max;
  at::Tensor sum;
  at::Tensor out;

  OnlineSoftmax(int64_t kv_heads, int64_t group, int64_t rows, int64_t dim, const at::TensorOptions& options)
      : max(at::full({kv_heads, group, rows, 1}, -std::numeric_limits<double>::infinity(), options)),
        sum(at::zeros({kv_heads, group, rows, 1}, options)),
        out(at::zeros({kv_heads, group, rows, dim}, options)) {}

  // Folds scores [Hkv, group, r, T] of rows [rows.begin, rows.end) against the values
  // [Hkv, T, d] of the same tile into the state. Every row sees at least one key of the
  // tile, so its new maximum is finite.
  void Add(at::Tensor scores, const at::Tensor& values, RowRange rows) {
    at::Tensor row_max = max.slice(2, rows.begin, rows.end);
    at::Tensor row_sum = sum.slice(2, rows.begin, rows.end);
    at::Tensor row_out = out.slice(2, rows.begin, rows.end);
    const at::Tensor new_max = at::maximum(row_max, scores.amax(-1, /*keepdim=*/true));
    const at::Tensor rescale = (row_max - new_max).exp_();
    at::Tensor probs = scores.sub_(new_max).exp_();
    row_sum.mul_(rescale).add_(probs.sum(-1, /*keepdim=*/true));
    const int64_t kv_heads = probs.size(0);
    const at::Tensor weighted =
        at::matmul(probs.view({kv_heads, -1, probs.size(3)}), values).view(row_out.sizes());
    row_out.mul_(rescale).add_(weighted);
    row_max.copy_(new_max);
  }
};

// One block of at most kQueryBlock queries at ascending `positions`.
at::Tensor AttendBlock(const at::Tensor& q, int64_t start, const std::vector<int64_t>& positions,
                       const HeadMajorKv& kv, KeyVisibility visibility, int64_t* score_pairs) {
  const int64_t rows = static_cast<int64_t>(positions.size());
  const int64_t heads = q.size(1);
  const int64_t dim = q.size(2);
  const int64_t kv_heads = kv.keys.size(0);
  const int64_t group = heads / kv_heads;
  const at::Tensor row_positions = at::tensor(positions, at::kLong);
  // [Hkv, group, rows, d], pre-scaled so that scores need no extra pass.
  const at::Tensor block_q = q.index_select(0, row_positions - start)
                                 .view({rows, kv_heads, group, dim})
                                 .permute({1, 2, 0, 3})
                                 .mul(1.0 / std::sqrt(static_cast<double>(dim)))
                                 .contiguous();
  OnlineSoftmax state(kv_heads, group, rows, dim, q.options());
  for (const KeyRange& range : BlockKeyRanges(visibility, positions.front(), positions.back())) {
    for (int64_t tile_begin = range.begin; tile_begin < range.end; tile_begin += kKeyTile) {
      const int64_t tile_end = std::min(range.end, tile_begin + kKeyTile);
      const RowRange seeing = RowsSeeingTile(visibility, positions, tile_begin, tile_end);
      if (seeing.size() == 0) continue;
      const at::Tensor tile_q =
          block_q.slice(2, seeing.begin, seeing.end).reshape({kv_heads, group * seeing.size(), dim});
      const at::Tensor tile_keys = kv.keys.slice(1, tile_begin, tile_end);
      at::Tensor scores =
          at::matmul(tile_q, tile_keys.transpose(1, 2)).view({kv_heads, group, seeing.size(), tile_end - tile_begin});
      if (!TileFullyVisible(visibility, positions[seeing.begin], positions[seeing.end - 1], tile_begin, tile_end)) {
        scores.masked_fill_(HiddenKeys(visibility, row_positions.slice(0, seeing.begin, seeing.end), tile_begin,
                                       tile_end),
                            -std::numeric_limits<double>::infinity());
      }
      state.Add(scores, kv.values.slice(1, tile_begin, tile_end), seeing);
      *score_pairs += seeing.size() * (tile_end - tile_begin);
    }
  }
  return state.out.div_(state.sum).permute({2, 0, 1, 3}).reshape({rows, heads, dim});
}

}  // namespace

HeadMajorKv HeadMajorKv::From(const at::Tensor& k, const at::Tensor& v) {
  return {k.permute({1, 0, 2}).contiguous(), v.permute({1, 0, 2}).contiguous()};
}

at::Tensor AttendPositions(const at::Tensor& q, int64_t start, const std::vector<int64_t>& positions,
                           const HeadMajorKv& kv, KeyVisibility visibility, int64_t* score_pairs) {
  const int64_t count = static_cast<int64_t>(positions.size());
  at::Tensor out = at::empty({count, q.size(1), q.size(2)}, q.options());
  for (int64_t first_row = 0; first_row < count; first_row += kQueryBlock) {
    const int64_t end_row = std::min(count, first_row + kQueryBlock);
    const std::vector<int64_t> block(positions.begin() + first_row, positions.begin() + end_row);
    out.slice(0, first_row, end_row).copy_(AttendBlock(q, start, block, kv, visibility, score_pairs));
  }
  return out;
}

}  // namespace deltaserve
