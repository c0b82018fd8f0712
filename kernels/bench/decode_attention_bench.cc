// Decode attention (DecodeAttention: one query per sequence, split-KV flash-decoding) at
// Llama-3.1-8B head shapes (32 query heads, 8 KV heads, d 128, bf16, block_size 16) over a
// paged cache with shuffled block tables. Decode reads every cached key and value once, so
// its bytes over its time, against a device-to-device copy measured in the same process,
// say how near the memory roof it runs.
//
// usage: deltaserve_decode_attention_bench [BATCHxCONTEXT[xSPLITS]...]   e.g. 64x1024, 64x1K or 64x1Kx2
// Times are CUDA-event medians of a CUDA graph of kIters launches (as the engine replays
// decode steps), after a warm-up.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/bench/bench_util.h"

namespace deltaserve::kernels {
namespace {

using bench::DeviceAlloc;
using bench::FillRandom;
using bench::kHeadDim;
using bench::kHeads;
using bench::kKvHeads;
using bench::MedianMs;
using bench::RandomPattern;

constexpr int kBlockSize = 16;
constexpr int kLayers = 32;  // Llama-3.1-8B: one decode step runs the kernel this often
constexpr int kIters = 50;
constexpr int kRepeats = 5;
constexpr std::size_t kCopyBytes = std::size_t{1} << 30;
// CudaPagedAttention's workspace (engine/cuda/cuda_paged_attention.cc): room for
// kMaxKeySplits splits, at most 256 MiB. The same bytes give the same split choice.
constexpr std::size_t kEngineMaxWorkspaceBytes = std::size_t{256} << 20;
// Consecutive launches read disjoint copies of the cache, together this many times the L2,
// so that no launch finds its keys left in L2 by the one before (the engine reads other
// layers' weights and cache in between).
constexpr int kL2Multiple = 8;

struct Shape {
  int batch;
  int context;
  int max_splits;  // 0: the engine's workspace; else room for this many splits only
};

struct Row {
  Shape shape;
  int splits;
  double us;
  double kv_bytes;
};

int L2Bytes() {
  int device = 0;
  int bytes = 0;
  BENCH_CHECK(cudaGetDevice(&device));
  BENCH_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrL2CacheSize, device));
  return bytes;
}

// Device-to-device copy bandwidth, bytes read plus bytes written per second.
double CopyGbPerS() {
  void* src = DeviceAlloc(kCopyBytes);
  void* dst = DeviceAlloc(kCopyBytes);
  BENCH_CHECK(cudaMemset(src, 0, kCopyBytes));
  const double ms = MedianMs([&] { BENCH_CHECK(cudaMemcpyAsync(dst, src, kCopyBytes, cudaMemcpyDeviceToDevice)); },
                             kRepeats);
  BENCH_CHECK(cudaFree(src));
  BENCH_CHECK(cudaFree(dst));
  return 2.0 * kCopyBytes / (ms * 1e-3) / 1e9;
}

Row BenchShape(Shape shape, const std::vector<std::uint16_t>& pattern) {
  const int blocks_per_seq = (shape.context + kBlockSize - 1) / kBlockSize;
  const std::int64_t token_elems = static_cast<std::int64_t>(kKvHeads) * kHeadDim;
  const std::int64_t set_blocks = static_cast<std::int64_t>(shape.batch) * blocks_per_seq;
  const std::size_t set_bytes = static_cast<std::size_t>(set_blocks) * kBlockSize * token_elems * 2 * 2;
  const int sets = static_cast<int>(std::max<std::size_t>(
      1, (static_cast<std::size_t>(kL2Multiple) * L2Bytes() + set_bytes - 1) / set_bytes));
  const std::size_t cache_bytes = static_cast<std::size_t>(sets) * set_bytes / 2;  // K or V
  const std::int64_t row_elems = static_cast<std::int64_t>(kHeads) * kHeadDim;
  const std::size_t rows_bytes = static_cast<std::size_t>(shape.batch) * row_elems * 2;

  void* k = DeviceAlloc(cache_bytes);
  void* v = DeviceAlloc(cache_bytes);
  void* q = DeviceAlloc(rows_bytes);
  void* out = DeviceAlloc(rows_bytes);
  FillRandom(k, cache_bytes, pattern);
  FillRandom(v, cache_bytes, pattern);
  FillRandom(q, rows_bytes, pattern);

  // Table set r, sequence s owns entries [(r * batch + s) * blocks_per_seq, ...) of one
  // permutation of all blocks.
  std::vector<std::int32_t> tables(static_cast<std::size_t>(sets) * set_blocks);
  std::iota(tables.begin(), tables.end(), 0);
  std::shuffle(tables.begin(), tables.end(), std::mt19937(1));
  auto* tables_dev = static_cast<std::int32_t*>(DeviceAlloc(tables.size() * 4));
  BENCH_CHECK(cudaMemcpy(tables_dev, tables.data(), tables.size() * 4, cudaMemcpyHostToDevice));
  const std::vector<std::int32_t> seq_lens(shape.batch, shape.context);
  auto* seq_lens_dev = static_cast<std::int32_t*>(DeviceAlloc(seq_lens.size() * 4));
  BENCH_CHECK(cudaMemcpy(seq_lens_dev, seq_lens.data(), seq_lens.size() * 4, cudaMemcpyHostToDevice));
  const std::size_t workspace_bytes =
      std::min(kEngineMaxWorkspaceBytes, GatheredAttentionWorkspaceBytes(shape.batch, kHeads, kHeadDim,
                                                                         shape.max_splits > 0 ? shape.max_splits
                                                                                              : kMaxKeySplits));
  void* workspace = DeviceAlloc(workspace_bytes);

  DecodeAttentionArgs args;
  args.q = {q, row_elems, kHeadDim};
  args.out = {out, row_elems, kHeadDim};
  args.num_heads = kHeads;
  args.num_seqs = shape.batch;
  args.max_seq_len = shape.context;
  args.seq_lens = seq_lens_dev;
  args.cache.k = k;
  args.cache.v = v;
  args.cache.num_blocks = static_cast<int>(sets * set_blocks);
  args.cache.num_kv_heads = kKvHeads;
  args.cache.head_dim = kHeadDim;
  args.cache.block_size = kBlockSize;
  args.cache.token_stride = token_elems;
  args.cache.block_stride = token_elems * kBlockSize;
  args.cache.head_stride = kHeadDim;
  args.cache.block_tables = tables_dev;
  args.cache.max_blocks_per_seq = blocks_per_seq;
  args.softmax_scale = 1.f / std::sqrt(static_cast<float>(kHeadDim));
  const int splits = DecodeAttentionSplits(args, workspace_bytes);

  cudaStream_t stream;
  BENCH_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  BENCH_CHECK(DecodeAttention(args, workspace, workspace_bytes, stream));  // errors show outside the capture
  BENCH_CHECK(cudaStreamSynchronize(stream));
  BENCH_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < kIters; ++i) {
    args.cache.block_tables = tables_dev + (i % sets) * set_blocks;
    BENCH_CHECK(DecodeAttention(args, workspace, workspace_bytes, stream));
  }
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  BENCH_CHECK(cudaStreamEndCapture(stream, &graph));
  BENCH_CHECK(cudaGraphInstantiateWithFlags(&exec, graph, 0));
  const double ms = MedianMs([&] { BENCH_CHECK(cudaGraphLaunch(exec, nullptr)); }, kRepeats);
  const double kv_bytes = static_cast<double>(shape.batch) * shape.context * token_elems * 2 * 2;
  const Row row{shape, splits, ms * 1e3 / kIters, kv_bytes};
  std::fprintf(stderr, "%dx%d: %d splits, %.1f us, %d cache copies\n", shape.batch, shape.context, splits, row.us,
               sets);

  BENCH_CHECK(cudaGraphExecDestroy(exec));
  BENCH_CHECK(cudaGraphDestroy(graph));
  BENCH_CHECK(cudaStreamDestroy(stream));
  for (void* p : {k, v, q, out, workspace, static_cast<void*>(tables_dev), static_cast<void*>(seq_lens_dev)}) {
    BENCH_CHECK(cudaFree(p));
  }
  return row;
}

// "BxC" with C in tokens, or in units of 1024 with a K suffix, and an optional "xS": a
// workspace for at most S key splits (fewer than the launcher would choose shows what
// splitting buys); false if it is none of these.
bool ParseShape(const std::string& text, Shape* shape) {
  const std::size_t x = text.find('x');
  if (x == std::string::npos || x == 0) return false;
  char* end = nullptr;
  const long batch = std::strtol(text.c_str(), &end, 10);
  if (end != text.c_str() + x) return false;
  long context = std::strtol(text.c_str() + x + 1, &end, 10);
  if (end == text.c_str() + x + 1) return false;
  if (*end == 'K' || *end == 'k') {
    context *= 1024;
    ++end;
  }
  long max_splits = 0;
  if (*end == 'x') {
    const char* splits_text = end + 1;
    max_splits = std::strtol(splits_text, &end, 10);
    if (end == splits_text || max_splits <= 0 || max_splits > kMaxKeySplits) return false;
  }
  if (*end != '\0' || batch <= 0 || context <= 0 || batch > INT_MAX || context > INT_MAX) return false;
  *shape = {static_cast<int>(batch), static_cast<int>(context), static_cast<int>(max_splits)};
  return true;
}

}  // namespace
}  // namespace deltaserve::kernels

int main(int argc, char** argv) {
  using namespace deltaserve::kernels;
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; ++i) {
    Shape shape{};
    if (!ParseShape(argv[i], &shape)) {
      std::fprintf(stderr, "usage: %s [BATCHxCONTEXT[xSPLITS]...] (e.g. 64x1024, 64x1K or 64x1Kx2), not '%s'\n",
                   argv[0], argv[i]);
      return 2;
    }
    shapes.push_back(shape);
  }
  if (shapes.empty()) shapes = {{1, 8192, 0}, {1, 131072, 0}, {8, 8192, 0}, {64, 1024, 0}, {64, 4096, 0}, {256, 1024, 0}};
  const double copy_gbps = CopyGbPerS();
  const std::vector<std::uint16_t> pattern = RandomPattern();
  std::vector<Row> rows;
  for (const Shape& shape : shapes) rows.push_back(BenchShape(shape, pattern));

  std::printf("copy D2D %.0f GB/s (1 GiB read + 1 GiB written)\n", copy_gbps);
  std::printf("%6s %8s %7s %10s %10s %8s %7s %13s\n", "batch", "context", "splits", "us", "KV_MB", "GB/s",
              "x_copy", "32_layers_ms");
  for (const Row& row : rows) {
    const double gbps = row.kv_bytes / (row.us * 1e-6) / 1e9;
    std::printf("%6d %8d %7d %10.1f %10.1f %8.0f %7.2f %13.3f\n", row.shape.batch, row.shape.context, row.splits,
                row.us, row.kv_bytes / 1e6, gbps, gbps / copy_gbps, row.us * kLayers / 1e3);
  }
  return 0;
}
