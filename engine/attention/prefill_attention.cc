#include "engine/attention/prefill_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"

namespace deltaserve {
namespace {

// Bounds the score matrix of one block to kQueryBlock x keys per head.
constexpr int64_t kQueryBlock = 256;

// Dense causal attention of queries [q_begin, q_end) (rows of q, absolute positions
// start + row) over keys [0, start + q_end).
at::Tensor DenseRows(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     int64_t start, int64_t q_begin, int64_t q_end) {
  const int64_t heads = q.size(1);
  const int64_t kv_heads = k.size(1);
  const int64_t group = heads / kv_heads;
  const int64_t dim = q.size(2);
  const int64_t rows = q_end - q_begin;
  const int64_t keys = start + q_end;
  // [Hkv, group * rows, d] so that one matmul serves every query head of a KV head.
  at::Tensor qg = q.slice(0, q_begin, q_end).view({rows, kv_heads, group, dim})
                      .permute({1, 2, 0, 3}).reshape({kv_heads, group * rows, dim});
  at::Tensor kk = k.slice(0, 0, keys).permute({1, 2, 0});  // [Hkv, d, keys]
  at::Tensor vv = v.slice(0, 0, keys).permute({1, 0, 2});  // [Hkv, keys, d]
  at::Tensor scores = at::matmul(qg, kk).mul_(1.0 / std::sqrt(static_cast<double>(dim)));
  scores = scores.view({kv_heads, group, rows, keys});
  at::Tensor query_pos = at::arange(start + q_begin, start + q_end, at::kLong).view({rows, 1});
  at::Tensor key_pos = at::arange(keys, at::kLong).view({1, keys});
  scores.masked_fill_(key_pos.gt(query_pos), -std::numeric_limits<float>::infinity());
  at::Tensor probs = at::softmax(scores, -1).view({kv_heads, group * rows, keys});
  at::Tensor out = at::matmul(probs, vv);  // [Hkv, group * rows, d]
  return out.view({kv_heads, group, rows, dim}).permute({2, 0, 1, 3}).reshape({rows, heads, dim});
}

}  // namespace

absl::StatusOr<AttentionMode> ParseAttentionMode(std::string_view name) {
  if (name == "dense") return AttentionMode::kDense;
  if (name == "sparse") return AttentionMode::kSparse;
  if (name == "recompute") return AttentionMode::kRecompute;
  if (name == "delta") return AttentionMode::kDelta;
  return absl::InvalidArgumentError(absl::StrCat(
      "attention mode: unknown value '", std::string(name), "' (expected dense, sparse, recompute or delta)"));
}

std::string_view AttentionModeName(AttentionMode mode) {
  switch (mode) {
    case AttentionMode::kDense: return "dense";
    case AttentionMode::kSparse: return "sparse";
    case AttentionMode::kRecompute: return "recompute";
    case AttentionMode::kDelta: return "delta";
  }
  return "unknown";
}

at::Tensor PrefillAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t start, int64_t /*prompt_len*/,
                            const AttentionConfig& /*config*/) {
  const int64_t n = q.size(0);
  at::Tensor out = at::empty_like(q);
  for (int64_t begin = 0; begin < n; begin += kQueryBlock) {
    const int64_t end = std::min(n, begin + kQueryBlock);
    out.slice(0, begin, end).copy_(DenseRows(q, k, v, start, begin, end));
  }
  return out;
}

}  // namespace deltaserve
