#pragma once

#include <cstdint>
#include <string_view>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"

namespace deltaserve {

// How a prompt's attention is computed (DESIGN.md, "Delta Attention, exactly").
// Decoding is always dense.
enum class AttentionMode { kDense, kSparse, kRecompute, kDelta };

absl::StatusOr<AttentionMode> ParseAttentionMode(std::string_view name);
std::string_view AttentionModeName(AttentionMode mode);

struct AttentionConfig {
  AttentionMode mode = AttentionMode::kDense;
  int64_t window = 2048;
  int64_t sink = 1024;
  int64_t lambda = 64;
};

// Attention of one layer for one sequence on the CPU, float32.
//   q:    [n, H, d], the queries at absolute positions [start, start + n)
//   k, v: [start + n, Hkv, d], every key and value of the sequence up to the last query
//   prompt_len: the whole prompt's length s; queries at positions >= s are decode
//         queries and are always dense.
// Returns [n, H, d]. GQA: query head h reads KV head h / (H / Hkv).
at::Tensor PrefillAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t start, int64_t prompt_len, const AttentionConfig& config);

}  // namespace deltaserve
