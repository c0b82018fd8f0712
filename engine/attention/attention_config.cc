#include "engine/attention/attention_config.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace deltaserve {
namespace {

absl::Status OutOfRange(std::string_view field_prefix, std::string_view field,
                        std::string_view limit, const std::string& value) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field_prefix), std::string(field),
                                                 " must be ", std::string(limit), ", got ", value));
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

absl::Status ValidateAttentionConfig(const AttentionConfig& config, std::string_view field_prefix) {
  if (config.window < 1) return OutOfRange(field_prefix, "window", ">= 1", absl::StrCat(config.window));
  if (config.sink < 0) return OutOfRange(field_prefix, "sink", ">= 0", absl::StrCat(config.sink));
  if (config.lambda < 1) return OutOfRange(field_prefix, "lambda", ">= 1", absl::StrCat(config.lambda));
  // Written as a negation so that NaN is rejected too.
  if (!(config.probe_fraction >= 0.0 && config.probe_fraction <= 1.0)) {
    return OutOfRange(field_prefix, "probe_fraction", "in [0, 1]", absl::StrCat(config.probe_fraction));
  }
  return absl::OkStatus();
}

}  // namespace deltaserve
