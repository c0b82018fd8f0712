// One layer of prefill attention at Llama-3.1-8B head shapes (32 query heads, 8 KV heads,
// d 128, bf16) over a paged cache: our dense kernel, sparse (sink + window), and the
// Delta Attention pipelines (recompute, delta = sparse + anchor rows + combine), over the
// whole prompt at once and, as the engine runs a long prompt, in chunks of
// kChunkTokens (a sparse, an anchor and a combine launch per chunk). As in the engine
// (CudaPagedAttention), a pipeline's anchor launch runs on a second stream beside its
// sparse launch, and the combine waits for both; the "delta-stages" rows time the three
// stages one after another on one stream.
//
// usage: deltaserve_prefill_attention_bench [--baseline FILE] [--variants LIST] S...
// FILE holds lines "S cudnn_ms flash_ms" (scripts/gpu/sdpa_baseline.py); the table then
// shows each variant's speedup over cuDNN. Times are CUDA-event medians after a warm-up.
// LIST (comma-separated; default all of kVariants) runs only those rows, e.g. to profile
// one variant's launches with ncu without counting the others'.
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
#include <set>
#include <sstream>
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
using bench::MedianStageMs;
using bench::RandomPattern;

constexpr int kBlockSize = 64;
constexpr AttentionMask kSparseMask{1024, 2048};
constexpr int kLambda = 64;
constexpr std::int64_t kDenseMaxTokens = 131072;  // beyond, our dense run takes too long
constexpr int kChunkTokens = 16384;               // deltaserve's default --max-num-batched-tokens
// The split workspace the engine gives a gathered launch (CudaPagedAttention).
constexpr std::size_t kMaxSplitWorkspaceBytes = std::size_t{256} << 20;

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
  // The engine's side stream for anchor rows, high priority as there: non-blocking, so
  // that it runs beside the legacy stream rather than serialising with it.
  cudaStream_t side;
  cudaEvent_t inputs_ready;
  cudaEvent_t anchors_done;
};

// The queries [plan.start, plan.start + plan.len) of one launch set, with their launch
// metadata on the device.
struct Piece {
  DeltaChunkPlan plan;
  std::int32_t* meta;  // cu_q {0, len}, start_pos, cu_rows {0, dense rows}, row_token[], row_pos[]
  std::int32_t* cu_q() const { return meta; }
  std::int32_t* start_pos() const { return meta + 2; }
  std::int32_t* cu_rows() const { return meta + 3; }
  std::int32_t* row_token() const { return meta + 5; }
  std::int32_t* row_pos() const { return row_token() + plan.num_dense_rows(); }
};

Piece MakePiece(int start, int len, int prompt_len) {
  Piece piece{MakeDeltaChunkPlan(start, len, prompt_len, kLambda), nullptr};
  const int dense_rows = piece.plan.num_dense_rows();
  std::vector<std::int32_t> meta{0, len, start, 0, dense_rows};
  for (int r = 0; r < dense_rows; ++r) meta.push_back(piece.plan.dense_row_position(r) - start);
  for (int r = 0; r < dense_rows; ++r) meta.push_back(piece.plan.dense_row_position(r));
  piece.meta = static_cast<std::int32_t*>(DeviceAlloc(meta.size() * 4));
  BENCH_CHECK(cudaMemcpy(piece.meta, meta.data(), meta.size() * 4, cudaMemcpyHostToDevice));
  return piece;
}

// Row names --variants takes; "delta-stages" is the delta row's stages timed inside it.
const std::set<std::string> kVariants = {"dense",  "sparse",       "anchors",  "combine",
                                         "recompute", "delta", "delta-stages", "delta-16K"};

std::vector<Row> BenchLength(std::int64_t s, const std::vector<std::uint16_t>& pattern,
                             const std::set<std::string>& variants) {
  const std::int64_t row_elems = static_cast<std::int64_t>(kHeads) * kHeadDim;
  const std::int64_t kv_elems = s * kKvHeads * kHeadDim;
  const int blocks = static_cast<int>((s + kBlockSize - 1) / kBlockSize);
  const Piece whole = MakePiece(0, static_cast<int>(s), static_cast<int>(s));
  std::vector<Piece> chunks;
  for (std::int64_t start = 0; s > kChunkTokens && start < s; start += kChunkTokens) {
    chunks.push_back(MakePiece(static_cast<int>(start), static_cast<int>(std::min<std::int64_t>(kChunkTokens, s - start)),
                               static_cast<int>(s)));
  }
  const int dense_rows = whole.plan.num_dense_rows();

  Buffers b{};
  b.q = DeviceAlloc(s * row_elems * 2);
  b.k = DeviceAlloc(static_cast<std::size_t>(blocks) * kBlockSize * kKvHeads * kHeadDim * 2);
  b.v = DeviceAlloc(static_cast<std::size_t>(blocks) * kBlockSize * kKvHeads * kHeadDim * 2);
  b.sparse = DeviceAlloc(s * row_elems * 2);
  b.out = DeviceAlloc(s * row_elems * 2);
  b.dense_rows = DeviceAlloc(static_cast<std::size_t>(dense_rows) * row_elems * 2);
  b.workspace_bytes = std::min(kMaxSplitWorkspaceBytes,
                               GatheredAttentionWorkspaceBytes(dense_rows, kHeads, kHeadDim, kMaxKeySplits));
  b.workspace = DeviceAlloc(b.workspace_bytes);
  int least_priority = 0;
  int greatest_priority = 0;
  BENCH_CHECK(cudaDeviceGetStreamPriorityRange(&least_priority, &greatest_priority));
  BENCH_CHECK(cudaStreamCreateWithPriority(&b.side, cudaStreamNonBlocking, greatest_priority));
  BENCH_CHECK(cudaEventCreateWithFlags(&b.inputs_ready, cudaEventDisableTiming));
  BENCH_CHECK(cudaEventCreateWithFlags(&b.anchors_done, cudaEventDisableTiming));
  FillRandom(b.q, s * row_elems * 2, pattern);
  FillRandom(b.k, kv_elems * 2, pattern);
  FillRandom(b.v, kv_elems * 2, pattern);

  std::vector<std::int32_t> table(blocks);
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), std::mt19937(1));
  b.tables = static_cast<std::int32_t*>(DeviceAlloc(table.size() * 4));
  BENCH_CHECK(cudaMemcpy(b.tables, table.data(), table.size() * 4, cudaMemcpyHostToDevice));

  PagedKvCache cache;
  cache.k = b.k;
  cache.v = b.v;
  cache.num_blocks = blocks;
  cache.num_kv_heads = kKvHeads;
  cache.head_dim = kHeadDim;
  cache.block_size = kBlockSize;
  cache.token_stride = kKvHeads * kHeadDim;
  cache.block_stride = cache.token_stride * kBlockSize;
  cache.head_stride = kHeadDim;
  cache.block_tables = b.tables;
  cache.max_blocks_per_seq = blocks;
  const float scale = 1.f / std::sqrt(static_cast<float>(kHeadDim));

  // Row `start` of a [s, H, d] buffer.
  auto row = [&](void* buffer, int start) {
    return static_cast<char*>(buffer) + static_cast<std::int64_t>(start) * row_elems * 2;
  };
  auto prefill = [&](AttentionMask mask, const Piece& piece, void* out) {
    PrefillAttentionArgs a;
    a.q = {row(b.q, piece.plan.start), row_elems, kHeadDim};
    a.out = {row(out, piece.plan.start), row_elems, kHeadDim};
    a.num_heads = kHeads;
    a.num_seqs = 1;
    a.max_seqlen_q = piece.plan.len;
    a.cu_seqlens_q = piece.cu_q();
    a.start_pos = piece.start_pos();
    a.cache = cache;
    a.mask = mask;
    a.softmax_scale = scale;
    BENCH_CHECK(PrefillAttention(a, nullptr));
  };
  auto anchors = [&](const Piece& piece, cudaStream_t stream) {
    GatheredAttentionArgs a;
    a.q = {row(b.q, piece.plan.start), row_elems, kHeadDim};
    a.out = {b.dense_rows, row_elems, kHeadDim};
    a.num_heads = kHeads;
    a.num_seqs = 1;
    a.num_rows = piece.plan.num_dense_rows();
    a.max_rows_per_seq = a.num_rows;
    a.max_position = piece.plan.start + piece.plan.len - 1;
    a.cu_rows = piece.cu_rows();
    a.row_token = piece.row_token();
    a.row_pos = piece.row_pos();
    a.cache = cache;
    a.softmax_scale = scale;
    BENCH_CHECK(GatheredAttention(a, b.workspace, b.workspace_bytes, stream));
  };
  // Chunks start on the anchor grid, so none needs a carried correction.
  auto combine = [&](CorrectionMode mode, const Piece& piece) {
    DeltaCombineArgs a;
    a.sparse = row(b.sparse, piece.plan.start);
    a.sparse_row_stride = row_elems;
    a.dense = b.dense_rows;
    a.dense_row_stride = row_elems;
    a.out = row(b.out, piece.plan.start);
    a.out_row_stride = row_elems;
    a.row_elems = static_cast<int>(row_elems);
    a.plan = piece.plan;
    a.mode = mode;
    BENCH_CHECK(DeltaCombine(a, nullptr));
  };

  const int repeats = s >= 524288 ? 3 : 5;
  const double dense_flops = PairFlops(static_cast<double>(s) * (s + 1) / 2);
  const double sparse_flops = PairFlops(SparsePairs(s));
  double anchor_pairs = 0;
  for (int r = 0; r < dense_rows; ++r) anchor_pairs += whole.plan.dense_row_position(r) + 1;
  const double anchor_flops = PairFlops(anchor_pairs);
  // Combine bandwidth: reads sparse rows + writes out rows (anchor rows come from cache).
  const double combine_bytes = 2.0 * s * row_elems * 2;
  auto wanted = [&](const std::string& name) { return variants.count(name) > 0; };
  std::vector<Row> rows;
  // `work` is FLOPs, or bytes for the combine: the row's rate is work per second / 1e12.
  auto push_row = [&](const std::string& name, double work, double ms) {
    rows.push_back({s, name, ms, work / (ms * 1e-3) / 1e12});
    std::fprintf(stderr, "s=%lld %-9s %10.3f ms %7.1f TFLOP/s\n", static_cast<long long>(s), name.c_str(), ms, rows.back().tflops);
  };
  auto add = [&](const std::string& name, double work, const std::function<void()>& run) {
    if (wanted(name)) push_row(name, work, MedianMs(run, repeats));
  };
  // A corrected pipeline's stages, one after another: sparse prefill, anchor rows, combine.
  auto pipeline_stages = [&](CorrectionMode mode, const Piece& piece) {
    return std::vector<std::function<void()>>{[&] { prefill(kSparseMask, piece, b.sparse); },
                                              [&] { anchors(piece, nullptr); },
                                              [&, mode] { combine(mode, piece); }};
  };
  // The pipeline as the engine runs it: the anchors start on the side stream once all
  // earlier work is queued (the previous chunk's combine reads the same dense rows), the
  // sparse launch runs beside them, and the combine waits for both.
  auto pipeline = [&](CorrectionMode mode, const Piece& piece) {
    BENCH_CHECK(cudaEventRecord(b.inputs_ready, nullptr));
    BENCH_CHECK(cudaStreamWaitEvent(b.side, b.inputs_ready, 0));
    anchors(piece, b.side);
    BENCH_CHECK(cudaEventRecord(b.anchors_done, b.side));
    prefill(kSparseMask, piece, b.sparse);
    BENCH_CHECK(cudaStreamWaitEvent(nullptr, b.anchors_done, 0));
    combine(mode, piece);
  };
  if (s <= kDenseMaxTokens) add("dense", dense_flops, [&] { prefill(AttentionMask{}, whole, b.out); });
  add("sparse", sparse_flops, [&] { prefill(kSparseMask, whole, b.sparse); });
  add("anchors", anchor_flops, [&] { anchors(whole, nullptr); });
  add("combine", combine_bytes, [&] { combine(CorrectionMode::kDelta, whole); });
  add("recompute", sparse_flops + anchor_flops, [&] { pipeline(CorrectionMode::kRecompute, whole); });
  add("delta", sparse_flops + anchor_flops, [&] { pipeline(CorrectionMode::kDelta, whole); });
  if (wanted("delta-stages")) {
    // The delta row's stages timed inside it: which one costs more there than alone.
    const std::vector<double> in_delta = MedianStageMs(pipeline_stages(CorrectionMode::kDelta, whole), repeats);
    push_row("  .sparse", sparse_flops, in_delta[0]);
    push_row("  .anchors", anchor_flops, in_delta[1]);
    push_row("  .combine", combine_bytes, in_delta[2]);
  }
  if (!chunks.empty()) {
    add("delta-16K", sparse_flops + anchor_flops, [&] {
      for (const Piece& chunk : chunks) pipeline(CorrectionMode::kDelta, chunk);
    });
  }
  BENCH_CHECK(cudaDeviceSynchronize());
  for (void* p : {b.q, b.k, b.v, b.sparse, b.out, b.dense_rows, b.workspace, static_cast<void*>(b.tables)}) {
    BENCH_CHECK(cudaFree(p));
  }
  for (const Piece& piece : chunks) BENCH_CHECK(cudaFree(piece.meta));
  BENCH_CHECK(cudaEventDestroy(b.inputs_ready));
  BENCH_CHECK(cudaEventDestroy(b.anchors_done));
  BENCH_CHECK(cudaStreamDestroy(b.side));
  BENCH_CHECK(cudaFree(whole.meta));
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

// The variants a --variants list names; false (after saying which) for an unknown name.
bool ParseVariants(const std::string& list, std::set<std::string>* variants) {
  variants->clear();
  std::stringstream names(list);
  for (std::string name; std::getline(names, name, ',');) {
    if (kVariants.count(name) == 0) {
      std::string known;
      for (const std::string& variant : kVariants) known += " " + variant;
      std::fprintf(stderr, "--variants: unknown variant '%s' (known:%s)\n", name.c_str(), known.c_str());
      return false;
    }
    variants->insert(name);
  }
  return true;
}

}  // namespace
}  // namespace deltaserve::kernels

int main(int argc, char** argv) {
  using namespace deltaserve::kernels;
  std::map<std::int64_t, std::pair<double, double>> baseline;
  std::vector<std::int64_t> lengths;
  std::set<std::string> variants = kVariants;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--baseline" && i + 1 < argc) {
      baseline = ReadBaseline(argv[++i]);
    } else if (std::string(argv[i]) == "--variants" && i + 1 < argc) {
      if (!ParseVariants(argv[++i], &variants)) return 2;
    } else {
      lengths.push_back(std::atoll(argv[i]));
      if (lengths.back() <= 0) {
        std::fprintf(stderr, "length '%s': expected a positive number of tokens\n", argv[i]);
        return 2;
      }
    }
  }
  if (lengths.empty()) lengths = {8192, 32768, 131072};
  const std::vector<std::uint16_t> pattern = RandomPattern();
  std::vector<Row> rows;
  for (std::int64_t s : lengths) {
    const std::vector<Row> r = BenchLength(s, pattern, variants);
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
                row.tflops, row.variant.find("combine") != std::string::npos ? "(TB/s)" : speedup);
  }
  return 0;
}
