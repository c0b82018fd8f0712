#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace deltaserve::client {

// The prompt and output lengths of one benchmark request.
struct RequestShape {
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
};

// How request lengths are drawn: fixed (min == max), uniform in [min, max], or read
// from a file of "prompt_tokens output_tokens" lines (used in order, cycled).
struct LengthSpec {
  int64_t prompt_min = 128;
  int64_t prompt_max = 128;
  int64_t output_min = 128;
  int64_t output_max = 128;
  std::string file;
};

absl::StatusOr<std::vector<RequestShape>> DrawShapes(const LengthSpec& spec, int64_t count, std::mt19937_64& rng);

// Latency summary of one metric over all requests.
struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
  int64_t count = 0;
};

// Nearest-rank percentiles; all zero for no samples.
Percentiles Summarize(std::vector<double> samples);

}  // namespace deltaserve::client
