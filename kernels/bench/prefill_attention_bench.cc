// One layer of prefill attention at Llama-3.1-8B head shapes (32 query heads, 8 KV heads,
// d 128, bf16) over a paged cache: our dense kernel, sparse (sink + window), and the
// Delta Attention pipelines (recompute, delta = sparse + anchor rows + combine).
//
// usage: deltaserve_prefill_attention_bench [--baseline FILE] S...
// FILE holds lines "S cudnn_ms flash_ms" (scripts/gpu/sdpa_baseline.py); the table then
// shows each variant's speedup over cuDNN. Times are CUDA-event medians after a warm-up.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/bench/bench_util.h"
#include "kernels/delta_combine.h"
#include "kernels/delta_plan.h"

namespace deltaserve::kernels {
namespace {

using bench::DeviceAlloc;
using bench::FillRandom;
using bench::kHeadDim;
using bench::kHeads;
using bench::kKvHeads;
using bench::MedianMs;
using bench::RandomPattern;

constexpr int kBlockSize = 64;
constexpr AttentionMask kSparseMask{1024, 2048};
constexpr int kLambda = 64;
constexpr std::int64_t kDenseMaxTokens = 131072;  // beyond, our dense run takes too long

// Query-key pairs each variant computes, times 4 * d * H FLOPs per pair.
double PairFlops(double pairs) { return 4.0 * kHeadDim * kHeads * pairs; }

double SparsePairs(std::int64_t s) {
  double pairs = 0;
  for (std::int64_t i = 0; i < s; ++i) {
    const std::int64_t window_keys = std::min<std::int64_t>(i + 1, kSparseMask.window);
    const std::int64_t sink_keys = std::min<std::int64_t>(kSparseMask.sink, std::max<std::int64_t>(0, i + 1 - window_keys));
    pairs += static_cast<double>(window_keys + sink_keys);
  }
  return pairs;
}

struct Row {
  std::int64_t s;
  std::string variant;
  double ms;
  double tflops;
};

struct Buffers {
  void* q;
  void* k;
  void* v;
  void* sparse;
  void* out;
  void* dense_rows;
  void* workspace;
  std::size_t workspace_bytes;
  std::int32_t* tables;
  std::int32_t* cu_q;
  std::int32_t* start_pos;
  std::int32_t* cu_rows;
  std::int32_t* row_token;
  std::int32_t* row_pos;
};

std::vector<Row> BenchLength(std::int64_t s, const std::vector<std::uint16_t>& pattern) {
  const std::int64_t row_elems = static_cast<std::int64_t>(kHeads) * kHeadDim;
  const std::int64_t kv_elems = s * kKvHeads * kHeadDim;
  const int blocks = static_cast<int>((s + kBlockSize - 1) / kBlockSize);
  const DeltaChunkPlan plan = MakeDeltaChunkPlan(0, static_cast<int>(s), static_cast<int>(s), kLambda);
  const int dense_rows = plan.num_dense_rows();

  Buffers b{};
  b.q = DeviceAlloc(s * row_elems * 2);
  b.k = DeviceAlloc(static_cast<std::size_t>(blocks) * kBlockSize * kKvHeads * kHeadDim * 2);
  b.v = DeviceAlloc(static_cast<std::size_t>(blocks) * kBlockSize * kKvHeads * kHeadDim * 2);
  b.sparse = DeviceAlloc(s * row_elems * 2);
  b.out = DeviceAlloc(s * row_elems * 2);
  b.dense_rows = DeviceAlloc(static_cast<std::size_t>(dense_rows) * row_elems * 2);
  b.workspace_bytes = GatheredAttentionWorkspaceBytes(dense_rows, kHeads, kHeadDim, 4);
  b.workspace = DeviceAlloc(b.workspace_bytes);
  FillRandom(b.q, s * row_elems * 2, pattern);
  FillRandom(b.k, kv_elems * 2, pattern);
  FillRandom(b.v, kv_elems * 2, pattern);

  std::vector<std::int32_t> table(blocks);
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), std::mt19937(1));
  std::vector<std::int32_t> rows_token(dense_rows);
  for (int r = 0; r < dense_rows; ++r) rows_token[r] = plan.dense_row_position(r);
  auto upload = [](const std::vector<std::int32_t>& host) {
    auto* dev = static_cast<std::int32_t*>(DeviceAlloc(host.size() * 4));
    BENCH_CHECK(cudaMemcpy(dev, host.data(), host.size() * 4, cudaMemcpyHostToDevice));
    return dev;
  };
  b.tables = upload(table);
  b.cu_q = upload({0, static_cast<std::int32_t>(s)});
  b.start_pos = upload({0});
  b.cu_rows = upload({0, dense_rows});
  b.row_token = upload(rows_token);
  b.row_pos = b.row_token;  // one chunk from position 0: q row == position

  PagedKvCache cache;
  cache.k = b.k;
  cache.v = b.v;
  cache.num_kv_heads = kKvHeads;
  cache.head_dim = kHeadDim;
  cache.block_size = kBlockSize;
  cache.token_stride = kKvHeads * kHeadDim;
  cache.block_stride = cache.token_stride * kBlockSize;
  cache.head_stride = kHeadDim;
  cache.block_tables = b.tables;
  cache.max_blocks_per_seq = blocks;
  const float scale = 1.f / std::sqrt(static_cast<float>(kHeadDim));

  auto prefill = [&](AttentionMask mask, void* out) {
    PrefillAttentionArgs a;
    a.q = {b.q, row_elems, kHeadDim};
    a.out = {out, row_elems, kHeadDim};
    a.num_heads = kHeads;
    a.num_seqs = 1;
    a.max_seqlen_q = static_cast<int>(s);
    a.cu_seqlens_q = b.cu_q;
    a.start_pos = b.start_pos;
    a.cache = cache;
    a.mask = mask;
    a.softmax_scale = scale;
    BENCH_CHECK(PrefillAttention(a, nullptr));
  };
  auto anchors = [&]() {
    GatheredAttentionArgs a;
    a.q = {b.q, row_elems, kHeadDim};
    a.out = {b.dense_rows, row_elems, kHeadDim};
    a.num_heads = kHeads;
    a.num_seqs = 1;
    a.num_rows = dense_rows;
    a.max_rows_per_seq = dense_rows;
    a.max_position = static_cast<int>(s - 1);
    a.cu_rows = b.cu_rows;
    a.row_token = b.row_token;
    a.row_pos = b.row_pos;
    a.cache = cache;
    a.softmax_scale = scale;
    BENCH_CHECK(GatheredAttention(a, b.workspace, b.workspace_bytes, nullptr));
  };
  auto combine = [&](CorrectionMode mode) {
    DeltaCombineArgs a;
    a.sparse = b.sparse;
    a.sparse_row_stride = row_elems;
    a.dense = b.dense_rows;
    a.dense_row_stride = row_elems;
    a.out = b.out;
    a.out_row_stride = row_elems;
    a.row_elems = static_cast<int>(row_elems);
    a.plan = plan;
    a.mode = mode;
    BENCH_CHECK(DeltaCombine(a, nullptr));
  };

  const int repeats = s >= 524288 ? 3 : 5;
  const double dense_flops = PairFlops(static_cast<double>(s) * (s + 1) / 2);
  const double sparse_flops = PairFlops(SparsePairs(s));
  double anchor_pairs = 0;
  for (int r = 0; r < dense_rows; ++r) anchor_pairs += plan.dense_row_position(r) + 1;
  const double anchor_flops = PairFlops(anchor_pairs);
  std::vector<Row> rows;
  auto add = [&](const std::string& name, double flops, const std::function<void()>& run) {
    const double ms = MedianMs(run, repeats);
    rows.push_back({s, name, ms, flops / (ms * 1e-3) / 1e12});
    std::fprintf(stderr, "s=%lld %-9s %10.3f ms %7.1f TFLOP/s\n", static_cast<long long>(s), name.c_str(), ms, rows.back().tflops);
  };
  if (s <= kDenseMaxTokens) add("dense", dense_flops, [&] { prefill(AttentionMask{}, b.out); });
  add("sparse", sparse_flops, [&] { prefill(kSparseMask, b.sparse); });
  add("anchors", anchor_flops, anchors);
  add("combine", 0, [&] { combine(CorrectionMode::kDelta); });
  add("recompute", sparse_flops + anchor_flops, [&] {
    prefill(kSparseMask, b.sparse);
    anchors();
    combine(CorrectionMode::kRecompute);
  });
  add("delta", sparse_flops + anchor_flops, [&] {
    prefill(kSparseMask, b.sparse);
    anchors();
    combine(CorrectionMode::kDelta);
  });
  // Combine bandwidth: reads sparse rows + writes out rows (anchor rows come from cache).
  rows[rows.size() - 3].tflops = 2.0 * s * row_elems * 2 / (rows[rows.size() - 3].ms * 1e-3) / 1e12;
  BENCH_CHECK(cudaDeviceSynchronize());
  for (void* p : {b.q, b.k, b.v, b.sparse, b.out, b.dense_rows, b.workspace,
                  static_cast<void*>(b.tables), static_cast<void*>(b.cu_q), static_cast<void*>(b.start_pos),
                  static_cast<void*>(b.cu_rows), static_cast<void*>(b.row_token)}) {
    BENCH_CHECK(cudaFree(p));
  }
  return rows;
}

std::map<std::int64_t, std::pair<double, double>> ReadBaseline(const char* path) {
  std::map<std::int64_t, std::pair<double, double>> baseline;
  std::ifstream in(path);
  std::int64_t s = 0;
  double cudnn = 0;
  double flash = 0;
  while (in >> s >> cudnn >> flash) baseline[s] = {cudnn, flash};
  return baseline;
}

// cuDNN time at s: measured, else scaled from the longest measured length as s^2.
double CudnnMs(const std::map<std::int64_t, std::pair<double, double>>& baseline, std::int64_t s, bool* extrapolated) {
  *extrapolated = false;
  if (auto it = baseline.find(s); it != baseline.end()) return it->second.first;
  if (baseline.empty()) return NAN;
  *extrapolated = true;
  const auto& [len, times] = *baseline.rbegin();
  return times.first * (static_cast<double>(s) / len) * (static_cast<double>(s) / len);
}

}  // namespace
}  // namespace deltaserve::kernels

int main(int argc, char** argv) {
  using namespace deltaserve::kernels;
  std::map<std::int64_t, std::pair<double, double>> baseline;
  std::vector<std::int64_t> lengths;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--baseline" && i + 1 < argc) {
      baseline = ReadBaseline(argv[++i]);
    } else {
      lengths.push_back(std::atoll(argv[i]));
    }
  }
  if (lengths.empty()) lengths = {8192, 32768, 131072};
  const std::vector<std::uint16_t> pattern = RandomPattern();
  std::vector<Row> rows;
  for (std::int64_t s : lengths) {
    const std::vector<Row> r = BenchLength(s, pattern);
    rows.insert(rows.end(), r.begin(), r.end());
  }
  std::printf("%-8s %-10s %11s %9s %14s\n", "tokens", "variant", "ms", "TFLOP/s", "x_vs_cuDNN");
  for (const auto& [s, times] : baseline) {
    const double flops = 4.0 * kHeadDim * kHeads * static_cast<double>(s) * (s + 1) / 2;
    std::printf("%-8lld %-10s %11.3f %9.1f %14s\n", static_cast<long long>(s), "cuDNN", times.first, flops / (times.first * 1e-3) / 1e12, "1.00");
    std::printf("%-8lld %-10s %11.3f %9.1f %14.2f\n", static_cast<long long>(s), "torch-fa2", times.second, flops / (times.second * 1e-3) / 1e12, times.first / times.second);
  }
  for (const Row& row : rows) {
    bool extrapolated = false;
    const double cudnn = CudnnMs(baseline, row.s, &extrapolated);
    char speedup[32];
    std::snprintf(speedup, sizeof(speedup), "%.2f%s", cudnn / row.ms, extrapolated ? " (extrap)" : "");
    std::printf("%-8lld %-10s %11.3f %9.1f %14s\n", static_cast<long long>(row.s), row.variant.c_str(), row.ms,
                row.tflops, row.variant == "combine" ? "(TB/s)" : speedup);
  }
  return 0;
}
