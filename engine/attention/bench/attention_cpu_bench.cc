// Times one layer's prefill attention per mode at Llama-3-8B head shapes on the CPU and
// prints a table with the query-key scores each mode computed (per query head), next to
// DESIGN.md's estimate and to the pairs the mode's rule makes visible; "waste" is
// computed / visible, the masked part of edge tiles. "extra s" is the time over sparse.
// Not a test: performance numbers belong here, not in unit tests.
//
//   deltaserve_attention_bench [--lengths 4096,16384] [--repeats 1]

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "engine/attention/delta_layout.h"
#include "engine/attention/prefill_attention.h"

ABSL_FLAG(std::vector<std::string>, lengths, std::vector<std::string>({"4096", "16384"}), "prompt lengths s");
ABSL_FLAG(int, repeats, 1, "timed runs per cell; the fastest is reported");

namespace deltaserve {
namespace {

constexpr int64_t kHeads = 32;
constexpr int64_t kKvHeads = 8;
constexpr int64_t kHeadDim = 128;

struct Measurement {
  double seconds;
  AttentionCost cost;
};

Measurement TimePrefill(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                        const AttentionConfig& config) {
  Measurement m{0.0, {}};
  const auto begin = std::chrono::steady_clock::now();
  PrefillAttention(q, k, v, /*start=*/0, q.size(0), config, {nullptr, nullptr, &m.cost});
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return m;
}

// DESIGN.md's estimate of the scores a mode needs: s(s+1)/2 dense, s(sink + window)
// sparse, plus (s / lambda + cut) * s / 2 for the dense queries of recompute and delta.
double EstimatedPairs(AttentionMode mode, int64_t s, const AttentionConfig& config) {
  const double sparse = static_cast<double>(s) * static_cast<double>(config.sink + config.window);
  const double cut = static_cast<double>(s % config.lambda + std::max<int64_t>(128, config.lambda));
  const double dense_queries = static_cast<double>(s) / static_cast<double>(config.lambda) + cut;
  switch (mode) {
    case AttentionMode::kDense: return static_cast<double>(s) * static_cast<double>(s + 1) / 2.0;
    case AttentionMode::kSparse: return sparse;
    case AttentionMode::kRecompute:
    case AttentionMode::kDelta: return sparse + dense_queries * static_cast<double>(s) / 2.0;
  }
  return 0.0;
}

// Query-key pairs the mode's rule makes visible (the exact work of an ideal kernel):
// sparse rows see min(i + 1, sink) sink keys plus the window keys at or above the sink.
double VisiblePairs(AttentionMode mode, int64_t s, const AttentionConfig& config) {
  const auto sparse_row = [&](int64_t i) {
    const int64_t window_begin = std::max<int64_t>(config.sink, i - config.window + 1);
    return std::min(i + 1, config.sink) + std::max<int64_t>(0, i + 1 - window_begin);
  };
  const DeltaLayout layout(s, config.lambda);
  double pairs = 0.0;
  for (int64_t i = 0; i < s; ++i) {
    const bool dense_row = mode == AttentionMode::kDense ||
                           (mode != AttentionMode::kSparse && (i >= layout.sparse_end() || i % config.lambda == 0));
    if (dense_row) pairs += static_cast<double>(i + 1);
    if (mode != AttentionMode::kDense && i < (mode == AttentionMode::kSparse ? s : layout.sparse_end())) {
      pairs += static_cast<double>(sparse_row(i));
    }
  }
  return pairs;
}

void RunLength(int64_t s, int repeats) {
  at::manual_seed(0);
  const at::Tensor q = at::randn({s, kHeads, kHeadDim});
  const at::Tensor k = at::randn({s, kKvHeads, kHeadDim});
  const at::Tensor v = at::randn({s, kKvHeads, kHeadDim});
  const std::vector<AttentionMode> modes = {AttentionMode::kDense, AttentionMode::kSparse, AttentionMode::kRecompute,
                                            AttentionMode::kDelta};
  std::vector<AttentionConfig> configs(modes.size());  // window 2048, sink 1024, lambda 64
  for (size_t i = 0; i < modes.size(); ++i) configs[i].mode = modes[i];
  // Runs of the modes interleave, so that load from other processes on a shared machine
  // hits every mode alike; the fastest run of each counts.
  std::vector<Measurement> best(modes.size(), Measurement{1e300, {}});
  for (int run = 0; run < repeats; ++run) {
    for (size_t i = 0; i < modes.size(); ++i) {
      const Measurement m = TimePrefill(q, k, v, configs[i]);
      if (m.seconds < best[i].seconds) best[i] = m;
    }
  }
  const double dense_seconds = best[0].seconds;
  const double sparse_seconds = best[1].seconds;
  for (size_t i = 0; i < modes.size(); ++i) {
    const Measurement& m = best[i];
    const AttentionConfig& config = configs[i];
    const bool corrected = config.mode == AttentionMode::kRecompute || config.mode == AttentionMode::kDelta;
    const std::string extra = corrected ? absl::StrFormat("%+.2f", m.seconds - sparse_seconds) : "-";
    const double pairs = static_cast<double>(m.cost.dense_score_pairs + m.cost.sparse_score_pairs);
    const double visible = VisiblePairs(config.mode, s, config);
    absl::PrintF("| %6d | %-9s | %8.2f | %6.2fx | %7s | %7d | %12d | %12d | %12.0f | %12.0f | %5.3f | %7.1f |\n", s,
                 std::string(AttentionModeName(config.mode)), m.seconds, dense_seconds / m.seconds, extra,
                 m.cost.dense_queries, m.cost.sparse_score_pairs, m.cost.dense_score_pairs,
                 EstimatedPairs(config.mode, s, config), visible, pairs / visible,
                 4.0 * kHeadDim * kHeads * pairs / m.seconds / 1e9);
  }
}

}  // namespace
}  // namespace deltaserve

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::PrintF("one layer, H=%d Hkv=%d d=%d, float32 CPU, %d intra-op threads; window 2048, sink 1024, lambda 64\n",
               deltaserve::kHeads, deltaserve::kKvHeads, deltaserve::kHeadDim, at::get_num_threads());
  absl::PrintF("| s      | mode      | seconds  | speedup | extra s | dense q | sparse pairs | dense pairs  "
               "| estimate     | visible      | waste | GFLOP/s |\n");
  absl::PrintF("|--------|-----------|----------|---------|---------|---------|--------------|--------------"
               "|--------------|--------------|-------|---------|\n");
  for (const std::string& length : absl::GetFlag(FLAGS_lengths)) {
    deltaserve::RunLength(std::stoll(length), absl::GetFlag(FLAGS_repeats));
  }
  return 0;
}
