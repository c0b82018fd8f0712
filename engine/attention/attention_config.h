#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
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
  // Fraction of anchor groups (delta / recompute) that also compute one dense query in
  // the middle of the group to measure the error left after correction; 0 turns it off.
  double probe_fraction = 0.0;
};

// Checks the ranges the algorithm needs (window >= 1, sink >= 0, lambda >= 1,
// probe_fraction in [0, 1]). Messages name the field as field_prefix + name, so the
// server reports "attention.window" and a CLI can pass "--" to report "--window".
absl::Status ValidateAttentionConfig(const AttentionConfig& config,
                                     std::string_view field_prefix = "attention.");

}  // namespace deltaserve
