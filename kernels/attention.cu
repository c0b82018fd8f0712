// Launchers of the paged attention kernel: argument checks, tile height, grid shape and key splits.
#include "kernels/attention.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "kernels/attention_kernel.h"

namespace deltaserve::kernels {
namespace {

using detail::AttentionProblem;

int CeilDiv(std::int64_t a, std::int64_t b) { return static_cast<int>((a + b - 1) / b); }

bool Aligned16(std::int64_t elements) { return elements % 8 == 0; }

bool Aligned16Address(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Both kernels read K and V in 16-byte pieces (cp.async or TMA), from aligned tensors and rows.
bool ValidCache(const PagedKvCache& c) {
  return c.k && c.v && Aligned16Address(c.k) && Aligned16Address(c.v) && c.block_tables && c.num_kv_heads > 0 &&
         (c.head_dim == 64 || c.head_dim == 128) && c.block_size > 0 && c.max_blocks_per_seq > 0 &&
         c.num_blocks > 0 && Aligned16(c.block_stride) && Aligned16(c.token_stride) && Aligned16(c.head_stride);
}

bool ValidRows(const RowTensor& t) {
  return t.data && Aligned16(t.row_stride) && Aligned16(t.head_stride);
}

bool ValidHeads(int num_heads, const PagedKvCache& cache) {
  return num_heads > 0 && num_heads % cache.num_kv_heads == 0 &&
         num_heads / cache.num_kv_heads <= detail::kLargeTileRows;
}

using detail::AttentionKernel;

template <int kHeadDim, int kTileRows>
AttentionKernel Instance() {
  return {detail::PagedAttentionKernel<kHeadDim, kTileRows>, kHeadDim, kTileRows, detail::kTileKeys,
          detail::TileShape<kTileRows>::kThreads, detail::AttentionSharedBytes<kHeadDim, kTileRows>(), nullptr};
}

// The wgmma kernel serves head_dim 128 in 128-row tiles on compute capability 9.0 (for
// the block sizes its TMA loads tile, below) unless DELTASERVE_PORTABLE_ATTENTION is set
// (to compare the two, or test the portable one there).
bool UseSm90Kernel() {
  static const bool use = [] {
    int device = 0;
    int major = 0;
    int minor = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
      return false;
    }
    return major == 9 && minor == 0 && std::getenv("DELTASERVE_PORTABLE_ATTENTION") == nullptr;
  }();
  return use;
}

// Whether the wgmma kernel's TMA loads can read a cache of this block size: a key tile
// must be whole boxes of one block's rows (block_size divides the tile or the tile
// divides block_size), each at least the 8 rows (1024 bytes) the 128-byte swizzle repeats
// over, so that every box starts where the pattern does.
bool TmaTilesBlocks(int block_size, const AttentionKernel& k) {
  return block_size >= 8 && (k.tile_keys % block_size == 0 || block_size % k.tile_keys == 0);
}

AttentionKernel SelectKernel(const PagedKvCache& cache, int tile_rows) {
  const bool small = tile_rows == detail::kSmallTileRows;
  if (cache.head_dim == 64) {
    return small ? Instance<64, detail::kSmallTileRows>() : Instance<64, detail::kLargeTileRows>();
  }
  if (small) return Instance<128, detail::kSmallTileRows>();
  if (UseSm90Kernel()) {
    const AttentionKernel sm90 = detail::Sm90AttentionKernel();
    if (TmaTilesBlocks(cache.block_size, sm90)) return sm90;
  }
  return Instance<128, detail::kLargeTileRows>();
}

// Launches and occupancy queries both need the kernel allowed its dynamic shared memory
// (above the default 48 KB).
cudaError_t AllowSharedMemory(const AttentionKernel& k) {
  return cudaFuncSetAttribute(k.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, k.shared_bytes);
}

AttentionProblem MakeProblem(const RowTensor& q, const RowTensor& out, int num_heads,
                             const PagedKvCache& cache, AttentionMask mask, float scale,
                             int tile_rows) {
  AttentionProblem p{};
  p.q = static_cast<const __nv_bfloat16*>(q.data);
  p.q_row_stride = q.row_stride;
  p.q_head_stride = q.head_stride;
  p.out = static_cast<__nv_bfloat16*>(out.data);
  p.out_row_stride = out.row_stride;
  p.out_head_stride = out.head_stride;
  p.k = static_cast<const __nv_bfloat16*>(cache.k);
  p.v = static_cast<const __nv_bfloat16*>(cache.v);
  p.kv_block_stride = cache.block_stride;
  p.kv_token_stride = cache.token_stride;
  p.kv_head_stride = cache.head_stride;
  p.kv_num_blocks = cache.num_blocks;
  p.block_tables = cache.block_tables;
  p.max_blocks_per_seq = cache.max_blocks_per_seq;
  p.block_size = cache.block_size;
  p.num_heads = num_heads;
  p.num_kv_heads = cache.num_kv_heads;
  p.group = num_heads / cache.num_kv_heads;
  p.tokens_per_tile = tile_rows / p.group;
  p.scale_log2 = scale * static_cast<float>(M_LOG2E);
  p.sink = mask.sink;
  p.window = mask.window;
  return p;
}

cudaError_t Launch(AttentionProblem p, const AttentionKernel& k, int num_seqs, int max_rows_per_seq,
                   int splits, cudaStream_t stream) {
  if (max_rows_per_seq <= 0) return cudaSuccess;
  const std::int64_t seq_heads = static_cast<std::int64_t>(num_seqs) * p.num_kv_heads;
  if (CeilDiv(max_rows_per_seq, p.tokens_per_tile) * seq_heads > INT_MAX) return cudaErrorInvalidValue;
  p.seq_heads = static_cast<int>(seq_heads);
  cudaError_t err = k.prepare ? k.prepare(p) : cudaSuccess;
  if (err == cudaSuccess) err = AllowSharedMemory(k);
  if (err != cudaSuccess) return err;
  const dim3 grid(CeilDiv(max_rows_per_seq, p.tokens_per_tile) * p.seq_heads, 1, splits);
  k.kernel<<<grid, k.threads, k.shared_bytes, stream>>>(p);
  err = cudaGetLastError();
  if (err != cudaSuccess || splits == 1) return err;
  constexpr int kWarpsPerBlock = 4;
  const std::int64_t slots = static_cast<std::int64_t>(p.num_rows) * p.num_heads;
  const auto merge = k.head_dim == 64 ? detail::MergeSplitsKernel<64> : detail::MergeSplitsKernel<128>;
  merge<<<CeilDiv(slots, kWarpsPerBlock), kWarpsPerBlock * 32, 0, stream>>>(
      p.partial_out, p.partial_lse, splits, p.num_rows, p.num_heads, p.out, p.out_row_stride,
      p.out_head_stride);
  return cudaGetLastError();
}

int MultiprocessorCount() {
  int device = 0;
  int count = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    return 1;
  }
  return count;
}

// Blocks of this kernel one SM holds at once (1 if the device cannot say).
int ResidentBlocksPerSm(const AttentionKernel& k) {
  int blocks = 0;
  if (AllowSharedMemory(k) != cudaSuccess ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, k.kernel, k.threads, k.shared_bytes) != cudaSuccess) {
    return 1;
  }
  return std::max(blocks, 1);
}

// Waves of resident blocks the launcher fills with key splits: 3 made 8 decode sequences
// x 8K keys slower on an H200 (31 splits, 100 us, against 21 and 93 us).
constexpr int kTargetWaves = 2;

struct KeySplit {
  int splits;     // gridDim.z
  int min_tiles;  // AttentionProblem::min_split_tiles
  int key_tiles;  // of the longest key range, max_position's tile included
};

// Key splits that make the grid up to about kTargetWaves waves of resident blocks, within
// the workspace (no workspace, or no rows: one split), each of at least min_tiles tiles of
// the longest key range: kMinKeysPerSplit keys while the unsplit grid is under half a
// wave, kMinKeysPerBusySplit from there on. Each block cuts its own key range into these
// splits (MakeKeyTileList), so shorter sequences stay balanced.
//
// Within that bound the count that wastes least of the last wave: a split block's time is
// its key range over the splits, so a grid takes ceil(blocks * splits / wave) / splits of
// the unsplit block time. A 16K-token chunk's anchor rows (64 blocks of 132 on an H100)
// took 5 splits for 2.4 waves, 3 rounds of a fifth: 4 splits take 2 rounds of a quarter.
KeySplit ChooseKeySplit(const AttentionProblem& p, const AttentionKernel& k, int num_seqs, int max_rows_per_seq,
                        int max_position, std::size_t workspace_bytes) {
  const int key_tiles = max_position / k.tile_keys + 1;
  const std::int64_t blocks = static_cast<std::int64_t>(CeilDiv(max_rows_per_seq, p.tokens_per_tile)) *
                              num_seqs * p.num_kv_heads;
  const std::size_t split_bytes = GatheredAttentionWorkspaceBytes(p.num_rows, p.num_heads, k.head_dim, 1);
  const std::int64_t wave = static_cast<std::int64_t>(MultiprocessorCount()) * ResidentBlocksPerSm(k);
  const int min_keys = 2 * blocks >= wave ? detail::kMinKeysPerBusySplit : detail::kMinKeysPerSplit;
  const int min_tiles = CeilDiv(min_keys, k.tile_keys);
  const std::int64_t max_splits =
      std::min<std::int64_t>({CeilDiv(kTargetWaves * wave, blocks), std::max(key_tiles / min_tiles, 1), kMaxKeySplits,
                              static_cast<std::int64_t>(split_bytes ? workspace_bytes / split_bytes : 0)});
  std::int64_t best = 1;
  for (std::int64_t splits = 2; splits <= max_splits; ++splits) {
    // rounds(splits) / splits <= rounds(best) / best, ties to more splits (better balance)
    if (CeilDiv(blocks * splits, wave) * best <= CeilDiv(blocks * best, wave) * splits) best = splits;
  }
  return {static_cast<int>(best), min_tiles, key_tiles};
}

// With align_splits, rows that see every earlier key (no window), whose lists are key
// tiles 0..n, are split at the same key tiles in every block (aligned_split_tiles): the
// anchor rows of a 16K-token chunk at 1M, split per block, started a split's blocks up to
// 84 tiles apart and read 4.8x their K/V bytes from DRAM (41% L2 hits; H100, Nsight
// Compute). Decode keeps per-block splits: there a short sequence's keys would all land
// in one split.
cudaError_t LaunchSplit(AttentionProblem p, const AttentionKernel& k, int num_seqs, int max_rows_per_seq,
                        int max_position, bool align_splits, void* workspace, std::size_t workspace_bytes,
                        cudaStream_t stream) {
  const KeySplit split =
      ChooseKeySplit(p, k, num_seqs, max_rows_per_seq, max_position, workspace ? workspace_bytes : 0);
  const int splits = split.splits;
  p.min_split_tiles = split.min_tiles;
  if (align_splits && splits > 1 && p.window <= 0) {
    p.aligned_split_tiles = std::max(CeilDiv(split.key_tiles, splits), split.min_tiles);
  }
  if (splits > 1) {
    p.partial_out = static_cast<float*>(workspace);
    p.partial_lse = p.partial_out + static_cast<std::int64_t>(p.num_rows) * p.num_heads * k.head_dim * splits;
  }
  return Launch(p, k, num_seqs, max_rows_per_seq, splits, stream);
}

bool ValidDecode(const DecodeAttentionArgs& a) {
  return ValidCache(a.cache) && ValidRows(a.q) && ValidRows(a.out) && ValidHeads(a.num_heads, a.cache) &&
         a.num_seqs > 0 && a.max_seq_len > 0 && a.seq_lens && a.softmax_scale > 0.f;
}

// A decode tile holds one token's G query heads per KV head: the one-warp 16-row tile
// where G fits in it, else the 128-row tile.
AttentionKernel DecodeKernel(const DecodeAttentionArgs& a) {
  const int group = a.num_heads / a.cache.num_kv_heads;
  return SelectKernel(a.cache, group <= detail::kSmallTileRows ? detail::kSmallTileRows : detail::kLargeTileRows);
}

AttentionProblem DecodeProblem(const DecodeAttentionArgs& a, const AttentionKernel& k) {
  AttentionProblem p =
      MakeProblem(a.q, a.out, a.num_heads, a.cache, AttentionMask{}, a.softmax_scale, k.tile_rows);
  p.base_pos = a.seq_lens;
  p.pos_bias = -1;  // the query is the last cached token
  p.num_rows = a.num_seqs;
  return p;
}

}  // namespace

std::size_t GatheredAttentionWorkspaceBytes(int rows, int num_heads, int head_dim, int splits) {
  return static_cast<std::size_t>(rows) * num_heads * (head_dim + 1) * splits * sizeof(float);
}

cudaError_t PrefillAttention(const PrefillAttentionArgs& a, cudaStream_t stream) {
  if (!ValidCache(a.cache) || !ValidRows(a.q) || !ValidRows(a.out) ||
      !ValidHeads(a.num_heads, a.cache) || a.num_seqs <= 0 || !a.cu_seqlens_q || !a.start_pos ||
      a.mask.sink < 0 || a.softmax_scale <= 0.f) {
    return cudaErrorInvalidValue;
  }
  const AttentionKernel k = SelectKernel(a.cache, detail::kLargeTileRows);
  AttentionProblem p = MakeProblem(a.q, a.out, a.num_heads, a.cache, a.mask, a.softmax_scale, k.tile_rows);
  p.cu_rows = a.cu_seqlens_q;
  p.base_pos = a.start_pos;
  return Launch(p, k, a.num_seqs, a.max_seqlen_q, 1, stream);
}

cudaError_t GatheredAttention(const GatheredAttentionArgs& a, void* workspace,
                              std::size_t workspace_bytes, cudaStream_t stream) {
  if (!ValidCache(a.cache) || !ValidRows(a.q) || !ValidRows(a.out) ||
      !ValidHeads(a.num_heads, a.cache) || a.num_seqs <= 0 || a.num_rows < 0 || !a.cu_rows ||
      !a.row_token || !a.row_pos || a.max_position < 0 || a.mask.sink < 0 ||
      a.softmax_scale <= 0.f) {
    return cudaErrorInvalidValue;
  }
  const AttentionKernel k = SelectKernel(a.cache, detail::kLargeTileRows);
  AttentionProblem p = MakeProblem(a.q, a.out, a.num_heads, a.cache, a.mask, a.softmax_scale, k.tile_rows);
  p.cu_rows = a.cu_rows;
  p.row_token = a.row_token;
  p.row_pos = a.row_pos;
  p.num_rows = a.num_rows;
  return LaunchSplit(p, k, a.num_seqs, a.max_rows_per_seq, a.max_position, /*align_splits=*/true, workspace,
                     workspace_bytes, stream);
}

cudaError_t DecodeAttention(const DecodeAttentionArgs& a, void* workspace,
                            std::size_t workspace_bytes, cudaStream_t stream) {
  if (!ValidDecode(a)) return cudaErrorInvalidValue;
  const AttentionKernel k = DecodeKernel(a);
  return LaunchSplit(DecodeProblem(a, k), k, a.num_seqs, 1, a.max_seq_len - 1, /*align_splits=*/false, workspace,
                     workspace_bytes, stream);
}

int DecodeAttentionSplits(const DecodeAttentionArgs& a, std::size_t workspace_bytes) {
  if (!ValidDecode(a)) return 0;
  const AttentionKernel k = DecodeKernel(a);
  return ChooseKeySplit(DecodeProblem(a, k), k, a.num_seqs, 1, a.max_seq_len - 1, workspace_bytes).splits;
}

}  // namespace deltaserve::kernels
