// One FlashAttention-2 style kernel behind prefill, gathered (anchor) and decode attention.
//
// A thread block owns a tile of kTileRows query rows of one sequence and one KV head: row r
// is query token r / group, query head kv_head * group + r % group, so the heads that share
// a KV head share every K/V tile it loads. It walks a list of 32-key tiles (the sink
// tiles, then the tiles from the first window key to the causal end; dense is the window
// list from 0), kKvStages deep in cp.async and read through the block table. Each warp
// owns 16 or 32 rows (one or two m16 tiles that share every K/V fragment, Q re-read from
// shared memory) and runs mma.sync m16n8k16 with an online softmax. Two tile heights are
// instantiated: 128 rows (4 warps x 32) for prefill and gathered rows, and 16 rows (one
// warp, one m16 tile) for decode, whose tile holds only the group's query heads of one
// token. With gridDim.z > 1 each block covers one split of its own key tile list and
// writes fp32 partial output and log2-sum-exp for MergeSplitsKernel, unless that list is
// too short to split: then split 0 writes the output itself (KeyTileList::whole).
#pragma once

#include <cuda.h>  // CUtensorMap only: nothing here calls the driver API
#include <cuda_bf16.h>

#include <climits>
#include <cstdint>

#include "kernels/mma_sm80.cuh"

namespace deltaserve::kernels::detail {

constexpr int kTileKeys = 32;  // 64 would need more than 255 registers at 32 rows per warp
// Keys a split takes at least. A split costs its block a prologue (Q, the first K/V
// stage) and a partial write, and the launch a merge: short splits pay only while the grid
// is too small to keep the GPU busy. On an H200, 64 decode sequences x 1K keys (512
// blocks) read at 0.89x copy bandwidth unsplit and 0.74x in 3 splits of 352 keys, while 64
// x 4K gained from 4 splits of 1024 (0.92x) and a lone 8K sequence from 32 of 256.
constexpr int kMinKeysPerSplit = 256;       // grids under half a wave of resident blocks
constexpr int kMinKeysPerBusySplit = 1024;  // grids of half a wave or more
constexpr int kLargeTileRows = 128;
// Split 0's log2-sum-exp for a row it wrote whole, in bf16, straight to the output: the
// merge leaves that row alone.
constexpr float kWrittenWholeLse = INFINITY;
constexpr int kSmallTileRows = 16;

// The block layout a tile height implies.
template <int kTileRows>
struct TileShape {
  // Two m16 tiles per warp halve the ldmatrix traffic per mma where there are rows for
  // them; a 16-row tile is one warp of one m16 tile.
  static constexpr int kWarpMTiles = kTileRows >= 32 ? 2 : 1;
  static constexpr int kWarpRows = 16 * kWarpMTiles;
  static constexpr int kWarps = kTileRows / kWarpRows;
  static constexpr int kThreads = 32 * kWarps;
  // K/V stages. 128 rows: 3 (2 blocks/SM). 16 rows, for decode, which is memory-bound:
  // ~1 us of latency at 4.8 TB/s over 132 SMs needs ~40 KB in flight per SM. At d 128, 2
  // stages take 40 KB of shared memory, 5 blocks of the 228 KB per SM, each loading one
  // 16 KB tile while it computes the other (80 KB), and give 5 warps to overlap the math;
  // 3 stages (57 KB) would fit only 3 blocks.
  static constexpr int kKvStages = kTileRows >= 32 ? 3 : 2;
  static_assert(kTileRows % kWarpRows == 0, "whole warps");
  static_assert(kThreads >= kTileKeys, "one thread looks up each key row of a tile");
  static_assert(kThreads >= kTileRows, "one thread reads the position of each tile token");
};

template <int kHeadDim, int kTileRows>
constexpr int AttentionSharedBytes() {
  // Q, then K and V in kKvStages stages each.
  return (kTileRows + 2 * TileShape<kTileRows>::kKvStages * kTileKeys) * PaddedRowBytes<kHeadDim>();
}

struct AttentionProblem {
  const __nv_bfloat16* q;
  std::int64_t q_row_stride;
  std::int64_t q_head_stride;
  __nv_bfloat16* out;
  std::int64_t out_row_stride;
  std::int64_t out_head_stride;
  const int* cu_rows;    // nullptr: sequence s owns row s
  const int* row_token;  // nullptr: row r reads q row r
  const int* row_pos;    // nullptr: base_pos[s] + pos_bias + (r - first row of s)
  const int* base_pos;
  int pos_bias;
  const __nv_bfloat16* k;
  const __nv_bfloat16* v;
  std::int64_t kv_block_stride;
  std::int64_t kv_token_stride;
  std::int64_t kv_head_stride;
  int kv_num_blocks;
  const int* block_tables;
  int max_blocks_per_seq;
  int block_size;
  int num_heads;
  int num_kv_heads;
  int group;            // num_heads / num_kv_heads
  int tokens_per_tile;  // the launched tile's rows / group
  float scale_log2;     // softmax scale * log2(e)
  int sink;
  int window;       // <= 0: dense causal
  int seq_heads;    // num_seqs * num_kv_heads: blockIdx.x is row tile rank * seq_heads + seq head
  int num_rows;     // rows of the launch, indexes the partial buffers
  int min_split_tiles;  // key tiles a split takes at least when gridDim.z > 1
  // > 0: every block's split z is list indices [z, z + 1) * aligned_split_tiles rather than
  // a share of its own list (gathered dense rows, whose lists differ in length).
  int aligned_split_tiles;
  float* partial_out;  // [splits][num_rows][num_heads][head_dim]
  float* partial_lse;  // [splits][num_rows][num_heads]
  // TMA descriptors of k and v, filled only for the Hopper kernel (attention_sm90.cu),
  // which reads them from its __grid_constant__ parameter.
  CUtensorMap k_map;
  CUtensorMap v_map;
};

// The key tiles (of kKeys keys) one block visits: [first_a, first_a + count_a) then
// [first_b, ...). `whole`: the block's whole list falls in split 0 (always so unsplit).
struct KeyTileList {
  int first_a, count_a, first_b, count_b;
  bool whole;
  __device__ int size() const { return count_a + count_b; }
  __device__ int at(int i) const { return i < count_a ? first_a + i : first_b + i - count_a; }
};

// With gridDim.z > 1 the block takes part blockIdx.z of its own list, cut into at most
// gridDim.z equal parts of at least p.min_split_tiles tiles: the host sizes gridDim.z for
// the longest sequence a launch may see (a CUDA graph's max_model_len), and a block with
// fewer keys spreads them over fewer splits, leaving the last ones empty. A list shorter
// than two such parts stays whole in split 0, which then writes the final output, so the
// 64 x 1152-key decode step of a graph captured for 128K keys runs unsplit (its 3 splits
// had cut 36 tiles into 32 + 4 and merged them). With p.aligned_split_tiles every block
// cuts at the same list indices instead, so that the blocks of a split walk the same key
// tiles at the same time and share them in L2 (for dense rows the list index is the key
// tile).
template <int kKeys>
__device__ inline KeyTileList MakeKeyTileList(const AttentionProblem& p, int pos_min, int pos_max) {
  const int key_tiles = pos_max / kKeys + 1;
  int sink_end = 0;
  int window_begin = 0;
  if (p.window > 0) {
    sink_end = min((p.sink + kKeys - 1) / kKeys, key_tiles);
    window_begin = max(max(pos_min - p.window + 1, 0) / kKeys, sink_end);
  }
  // Whole list: tiles [0, sink_end), then [window_begin, key_tiles). This block's part of
  // it: list indices [begin, end).
  const int count = sink_end + key_tiles - window_begin;
  int begin = 0;
  int end = count;
  KeyTileList list;
  list.whole = true;
  if (gridDim.z > 1) {
    const int parts = max(1, min(static_cast<int>(gridDim.z), count / max(p.min_split_tiles, 1)));
    const int per_split = p.aligned_split_tiles > 0 ? p.aligned_split_tiles : (count + parts - 1) / parts;
    list.whole = per_split >= count;
    begin = min(static_cast<int>(blockIdx.z) * per_split, count);
    end = min(begin + per_split, count);
  }
  list.first_a = begin;
  list.count_a = max(0, min(sink_end, end) - begin);
  list.first_b = window_begin + max(begin - sink_end, 0);
  list.count_b = max(0, end - max(begin, sink_end));
  return list;
}

__device__ inline bool KeyAllowed(int key, int pos, int sink, int window) {
  return key <= pos && (window <= 0 || key < sink || key > pos - window);
}

// Element offset of key `key`'s row for this block's KV head in the cache, or -1 for a key
// past the last query position (never attended; its tile row is zero-filled instead).
__device__ inline std::int64_t KeyRowOffset(const AttentionProblem& p, int seq, int kv_head,
                                            int key, int pos_max) {
  if (key > pos_max) return -1;
  const int block =
      p.block_tables[static_cast<std::int64_t>(seq) * p.max_blocks_per_seq + key / p.block_size];
  return block * p.kv_block_stride + (key % p.block_size) * p.kv_token_stride +
         kv_head * p.kv_head_stride;
}

// The rows of one thread block: tile `tile` of a sequence's rows for one KV head; tile row
// r is token r / group (output row tile_row[r / group], position tile_pos[r / group]) and
// query head kv_head * group + r % group.
struct BlockRows {
  int seq;
  int kv_head;
  int valid_rows;
  int pos_min;
  int pos_max;
};

// Decodes blockIdx.x and fills tile_row / tile_pos [tokens_per_tile]. Every thread calls it
// (it synchronises the block); false, for the whole block alike, when the tile lies past
// its sequence's rows.
__device__ inline bool LoadBlockRows(const AttentionProblem& p, int* tile_row, int* tile_pos, BlockRows& b) {
  const int seq_head = static_cast<int>(blockIdx.x) % p.seq_heads;
  b.seq = seq_head / p.num_kv_heads;
  b.kv_head = seq_head % p.num_kv_heads;
  const int seq_first_row = p.cu_rows ? p.cu_rows[b.seq] : b.seq;
  const int seq_rows = p.cu_rows ? p.cu_rows[b.seq + 1] - seq_first_row : 1;
  // Causal tiles late in a sequence carry the most keys. Blocks start in blockIdx order,
  // so ranking tiles longest first across every sequence and head balances the last wave
  // (it matters when the grid is a few waves, as for anchor rows).
  const int row_tiles = static_cast<int>(gridDim.x) / p.seq_heads;
  const int tile = row_tiles - 1 - static_cast<int>(blockIdx.x) / p.seq_heads;
  const int first_local = tile * p.tokens_per_tile;
  if (first_local >= seq_rows) return false;
  const int tile_tokens = min(p.tokens_per_tile, seq_rows - first_local);
  b.valid_rows = tile_tokens * p.group;
  if (static_cast<int>(threadIdx.x) < tile_tokens) {
    const int local = first_local + static_cast<int>(threadIdx.x);
    const int row = seq_first_row + local;
    tile_row[threadIdx.x] = row;
    tile_pos[threadIdx.x] = p.row_pos ? p.row_pos[row] : p.base_pos[b.seq] + p.pos_bias + local;
  }
  __syncthreads();
  b.pos_min = INT_MAX;
  b.pos_max = -1;
  for (int t = 0; t < tile_tokens; ++t) {
    b.pos_min = min(b.pos_min, tile_pos[t]);
    b.pos_max = max(b.pos_max, tile_pos[t]);
  }
  return true;
}

// Query vector of tile row `row` (< valid_rows), 16-byte chunk `chunk`.
__device__ inline const __nv_bfloat16* QueryChunk(const AttentionProblem& p, const int* tile_row,
                                                  const BlockRows& b, int row, int chunk) {
  const int out_row = tile_row[row / p.group];
  const int q_row = p.row_token ? p.row_token[out_row] : out_row;
  const int head = b.kv_head * p.group + row % p.group;
  return p.q + q_row * p.q_row_stride + head * p.q_head_stride + chunk * 8;
}

// Writes tile row `row` from a thread that holds its unnormalised output columns
// 8 t + 2 (lane % 4) + {0, 1} for every 8-column tile t as pair(t), with the row's
// softmax sum (already reduced over the 4 lanes) and running maximum: bf16 output rows
// from a block that walked its whole key list (`whole`), else fp32 partials and the
// log2-sum-exp.
template <int kHeadDim, typename PairOf>
__device__ inline void StoreOutputRow(const AttentionProblem& p, const int* tile_row, const BlockRows& b, bool whole,
                                      int row, int lane, float sum, float row_max, PairOf pair) {
  const int out_row = tile_row[row / p.group];
  const int head = b.kv_head * p.group + row % p.group;
  const float inv_sum = sum > 0.f ? 1.f / sum : 0.f;
  const int column = 2 * (lane & 3);
  const std::int64_t slot = (static_cast<std::int64_t>(blockIdx.z) * p.num_rows + out_row) * p.num_heads + head;
  if (whole) {
    __nv_bfloat16* dst = p.out + out_row * p.out_row_stride + head * p.out_head_stride + column;
#pragma unroll
    for (int t = 0; t < kHeadDim / 8; ++t) {
      const float2 v = pair(t);
      *reinterpret_cast<__nv_bfloat162*>(dst + t * 8) = __floats2bfloat162_rn(v.x * inv_sum, v.y * inv_sum);
    }
    if (gridDim.z > 1 && (lane & 3) == 0) p.partial_lse[slot] = kWrittenWholeLse;
    return;
  }
  float* dst = p.partial_out + slot * kHeadDim + column;
#pragma unroll
  for (int t = 0; t < kHeadDim / 8; ++t) {
    const float2 v = pair(t);
    *reinterpret_cast<float2*>(dst + t * 8) = make_float2(v.x * inv_sum, v.y * inv_sum);
  }
  if ((lane & 3) == 0) p.partial_lse[slot] = sum > 0.f ? row_max * p.scale_log2 + log2f(sum) : -INFINITY;
}

// Two blocks per SM caps the 128-row tile at 255 registers per thread; the one-warp tile
// stays far below any cap.
template <int kHeadDim, int kTileRows>
__global__ void __launch_bounds__(TileShape<kTileRows>::kThreads, 2)
    PagedAttentionKernel(const AttentionProblem p) {
  using Tile = TileShape<kTileRows>;
  constexpr int kThreads = Tile::kThreads;
  constexpr int kKvStages = Tile::kKvStages;
  constexpr int kWarpRows = Tile::kWarpRows;
  constexpr int kWarpMTiles = Tile::kWarpMTiles;
  constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks per row
  constexpr int kQBytes = kTileRows * PaddedRowBytes<kHeadDim>();
  constexpr int kKvTileBytes = kTileKeys * PaddedRowBytes<kHeadDim>();
  extern __shared__ __align__(128) unsigned char shared[];
  __shared__ int tile_row[kTileRows];
  __shared__ int tile_pos[kTileRows];
  // Cache offsets of the key rows of the tiles in flight, one slot per K/V stage: the
  // block-table lookup runs once per key row instead of once per 16-byte copy.
  __shared__ std::int64_t key_offset[kKvStages][kTileKeys];
  const std::uint32_t q_smem = SharedAddress(shared);
  const std::uint32_t k_smem = q_smem + kQBytes;
  const std::uint32_t v_smem = k_smem + kKvStages * kKvTileBytes;

  BlockRows b;
  if (!LoadBlockRows(p, tile_row, tile_pos, b)) return;
  const int seq = b.seq;
  const int kv_head = b.kv_head;
  const int valid_rows = b.valid_rows;
  const int pos_min = b.pos_min;
  const int pos_max = b.pos_max;
  const KeyTileList tiles = MakeKeyTileList<kTileKeys>(p, pos_min, pos_max);
  if (tiles.whole && blockIdx.z > 0) return;  // split 0 walks this block's keys alone

  for (int idx = threadIdx.x; idx < kTileRows * kChunks; idx += kThreads) {
    const int row = idx / kChunks;
    const int chunk = idx % kChunks;
    const bool valid = row < valid_rows;
    CopyAsync16(q_smem + PaddedOffset<kHeadDim>(row, chunk), valid ? QueryChunk(p, tile_row, b, row, chunk) : p.q,
                valid);
  }
  const bool offset_thread = threadIdx.x < kTileKeys;
  auto key_offset_of_tile = [&](int list_index) {
    return KeyRowOffset(p, seq, kv_head, tiles.at(list_index) * kTileKeys + static_cast<int>(threadIdx.x),
                        pos_max);
  };
  for (int slot = 0; slot < kKvStages; ++slot) {
    if (offset_thread && slot < tiles.size()) key_offset[slot][threadIdx.x] = key_offset_of_tile(slot);
  }
  __syncthreads();
  // Tile i lives in K/V stage i % kKvStages and reads its key offsets from the slot of
  // the same index.
  auto load_kv_tile = [&](int stage) {
    for (int idx = threadIdx.x; idx < kTileKeys * kChunks; idx += kThreads) {
      const int row = idx / kChunks;
      const int chunk = idx % kChunks;
      const std::int64_t offset = key_offset[stage][row];
      const bool valid = offset >= 0;
      const std::int64_t src = valid ? offset + chunk * 8 : 0;
      const std::uint32_t dst = stage * kKvTileBytes + PaddedOffset<kHeadDim>(row, chunk);
      CopyAsync16(k_smem + dst, p.k + src, valid);
      CopyAsync16(v_smem + dst, p.v + src, valid);
    }
  };
  for (int stage = 0; stage + 1 < kKvStages; ++stage) {
    if (stage < tiles.size()) load_kv_tile(stage);
    CommitAsyncCopies();
  }

  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp_row0 = warp * kWarpRows;
  const bool warp_active = warp_row0 < valid_rows;
  // Thread rows: m16 tile m, half h holds row warp_row0 + 16 m + 8 h + lane / 4.
  int row_pos[kWarpMTiles][2];
  for (int m = 0; m < kWarpMTiles; ++m) {
    for (int half = 0; half < 2; ++half) {
      const int row = warp_row0 + m * 16 + half * 8 + lane / 4;
      row_pos[m][half] = row < valid_rows ? tile_pos[row / p.group] : -1;
    }
  }
  float acc[kWarpMTiles][kHeadDim / 8][4] = {};
  float row_max[kWarpMTiles][2];
  float row_sum[kWarpMTiles][2] = {};
  for (int m = 0; m < kWarpMTiles; ++m) row_max[m][0] = row_max[m][1] = -INFINITY;
  // Per-lane ldmatrix addresses: lane group lane / 8 addresses one 8x8 matrix of an x4.
  const int ld_group = lane >> 3;
  const std::uint32_t q_lane = q_smem + PaddedOffset<kHeadDim>(warp_row0 + (ld_group & 1) * 8 + (lane & 7), ld_group >> 1);
  const std::uint32_t k_lane = PaddedOffset<kHeadDim>((ld_group >> 1) * 8 + (lane & 7), ld_group & 1);
  const std::uint32_t v_lane = PaddedOffset<kHeadDim>((ld_group & 1) * 8 + (lane & 7), ld_group >> 1);

  for (int i = 0; i < tiles.size(); ++i) {
    const int stage = i % kKvStages;
    if (i + kKvStages - 1 < tiles.size()) load_kv_tile((i + kKvStages - 1) % kKvStages);
    CommitAsyncCopies();
    // Slot `stage` is free once every thread has issued tile i (before the barrier below).
    const bool refill_slot = offset_thread && i + kKvStages < tiles.size();
    const std::int64_t offset_ahead = refill_slot ? key_offset_of_tile(i + kKvStages) : -1;
    WaitAsyncCopies<kKvStages - 1>();
    __syncthreads();
    if (refill_slot) key_offset[stage][threadIdx.x] = offset_ahead;
    if (warp_active) {
      const std::uint32_t q_frags = Opaque(q_lane);
      const std::uint32_t k_frags = Opaque(k_smem + stage * kKvTileBytes + k_lane);
      const std::uint32_t v_frags = Opaque(v_smem + stage * kKvTileBytes + v_lane);
      // The warp's m16 tiles share every K and V fragment; Q is re-read from shared
      // memory, which keeps 32 rows' accumulators within the register budget.
      float score[kWarpMTiles][kTileKeys / 8][4] = {};
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk) {
        std::uint32_t a[kWarpMTiles][4];
#pragma unroll
        for (int m = 0; m < kWarpMTiles; ++m) {
          LoadMatrixX4(a[m], q_frags + PaddedOffset<kHeadDim>(m * 16, kk * 2));
        }
#pragma unroll
        for (int nn = 0; nn < kTileKeys / 16; ++nn) {
          std::uint32_t b[4];
          LoadMatrixX4(b, k_frags + PaddedOffset<kHeadDim>(nn * 16, kk * 2));
#pragma unroll
          for (int m = 0; m < kWarpMTiles; ++m) {
            MmaBf16(score[m][2 * nn], a[m], b[0], b[1]);
            MmaBf16(score[m][2 * nn + 1], a[m], b[2], b[3]);
          }
        }
      }
      const int key_lo = tiles.at(i) * kTileKeys;
      const int key_hi = key_lo + kTileKeys - 1;
      const bool whole_tile = key_hi <= pos_min &&
                              (p.window <= 0 || key_hi < p.sink || key_lo > pos_max - p.window);
      if (!whole_tile) {
#pragma unroll
        for (int m = 0; m < kWarpMTiles; ++m) {
#pragma unroll
          for (int t = 0; t < kTileKeys / 8; ++t) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int key = key_lo + t * 8 + 2 * (lane & 3) + (e & 1);
              if (!KeyAllowed(key, row_pos[m][e >> 1], p.sink, p.window)) score[m][t][e] = -INFINITY;
            }
          }
        }
      }
      float rescales[kWarpMTiles][2];
      bool max_grew = false;
#pragma unroll
      for (int m = 0; m < kWarpMTiles; ++m) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          float tile_max = -INFINITY;
#pragma unroll
          for (int t = 0; t < kTileKeys / 8; ++t) {
            tile_max = fmaxf(tile_max, fmaxf(score[m][t][2 * half], score[m][t][2 * half + 1]));
          }
          tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
          tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
          const float new_max = fmaxf(row_max[m][half], tile_max);
          // A row with no allowed key so far keeps max -inf; subtracting 0 avoids inf - inf.
          const float shift = new_max == -INFINITY ? 0.f : new_max * p.scale_log2;
          const float rescale = FastExp2(row_max[m][half] * p.scale_log2 - shift);
          float tile_sum = 0.f;
#pragma unroll
          for (int t = 0; t < kTileKeys / 8; ++t) {
#pragma unroll
            for (int e = 2 * half; e < 2 * half + 2; ++e) {
              score[m][t][e] = FastExp2(score[m][t][e] * p.scale_log2 - shift);
              tile_sum += score[m][t][e];
            }
          }
          row_sum[m][half] = row_sum[m][half] * rescale + tile_sum;
          row_max[m][half] = new_max;
          rescales[m][half] = rescale;
          max_grew = max_grew || rescale != 1.f;
        }
      }
      // Past the first tiles a row's maximum rarely grows: skip the accumulator rescale
      // when it grew for no row of the warp.
      if (__any_sync(0xffffffffu, max_grew)) {
#pragma unroll
        for (int m = 0; m < kWarpMTiles; ++m) {
#pragma unroll
          for (int d = 0; d < kHeadDim / 8; ++d) {
            acc[m][d][0] *= rescales[m][0];
            acc[m][d][1] *= rescales[m][0];
            acc[m][d][2] *= rescales[m][1];
            acc[m][d][3] *= rescales[m][1];
          }
        }
      }
#pragma unroll
      for (int j = 0; j < kTileKeys / 16; ++j) {
        std::uint32_t p_frag[kWarpMTiles][4];
#pragma unroll
        for (int m = 0; m < kWarpMTiles; ++m) {
          p_frag[m][0] = PackBf16(score[m][2 * j][0], score[m][2 * j][1]);
          p_frag[m][1] = PackBf16(score[m][2 * j][2], score[m][2 * j][3]);
          p_frag[m][2] = PackBf16(score[m][2 * j + 1][0], score[m][2 * j + 1][1]);
          p_frag[m][3] = PackBf16(score[m][2 * j + 1][2], score[m][2 * j + 1][3]);
        }
#pragma unroll
        for (int dd = 0; dd < kHeadDim / 16; ++dd) {
          std::uint32_t b[4];
          LoadMatrixX4Transposed(b, v_frags + PaddedOffset<kHeadDim>(j * 16, dd * 2));
#pragma unroll
          for (int m = 0; m < kWarpMTiles; ++m) {
            MmaBf16(acc[m][2 * dd], p_frag[m], b[0], b[1]);
            MmaBf16(acc[m][2 * dd + 1], p_frag[m], b[2], b[3]);
          }
        }
      }
    }
    __syncthreads();  // the next iteration's copies overwrite this stage
  }
  WaitAsyncCopies<0>();
  if (!warp_active) return;

#pragma unroll
  for (int m = 0; m < kWarpMTiles; ++m) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float sum = row_sum[m][half];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int row = warp_row0 + m * 16 + half * 8 + lane / 4;
      if (row >= valid_rows) continue;
      StoreOutputRow<kHeadDim>(p, tile_row, b, tiles.whole, row, lane, sum, row_max[m][half], [&](int t) {
        return make_float2(acc[m][t][2 * half], acc[m][t][2 * half + 1]);
      });
    }
  }
}

// Combines the per-split partial outputs of one (row, head) per warp, weighted by
// exp2(lse_split - max lse).
template <int kHeadDim>
__global__ void MergeSplitsKernel(const float* partial_out, const float* partial_lse,
                                  int splits, int num_rows, int num_heads,
                                  __nv_bfloat16* out, std::int64_t out_row_stride,
                                  std::int64_t out_head_stride) {
  constexpr int kPerLane = kHeadDim / 32;
  const std::int64_t slot = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) +
                            threadIdx.x / 32;
  const std::int64_t slots = static_cast<std::int64_t>(num_rows) * num_heads;
  if (slot >= slots) return;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  if (partial_lse[slot] == kWrittenWholeLse) return;
  float max_lse = -INFINITY;
  for (int z = 0; z < splits; ++z) max_lse = fmaxf(max_lse, partial_lse[z * slots + slot]);
  float acc[kPerLane] = {};
  float weight_sum = 0.f;
  for (int z = 0; z < splits; ++z) {
    const float lse = partial_lse[z * slots + slot];
    if (lse == -INFINITY) continue;
    const float weight = exp2f(lse - max_lse);
    weight_sum += weight;
    const float* src = partial_out + (z * slots + slot) * kHeadDim;
#pragma unroll
    for (int c = 0; c < kPerLane; ++c) acc[c] += weight * src[lane + 32 * c];
  }
  const float inv = weight_sum > 0.f ? 1.f / weight_sum : 0.f;
  const std::int64_t row = slot / num_heads;
  const std::int64_t head = slot % num_heads;
  __nv_bfloat16* dst = out + row * out_row_stride + head * out_head_stride;
#pragma unroll
  for (int c = 0; c < kPerLane; ++c) dst[lane + 32 * c] = __float2bfloat16(acc[c] * inv);
}

}  // namespace deltaserve::kernels::detail
