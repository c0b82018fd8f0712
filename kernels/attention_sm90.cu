// The Hopper attention kernel: the same problem, masks, grid and key splits as
// PagedAttentionKernel (paged_attention_kernel.cuh), computed FlashAttention-3 style.
//
// A block owns 128 query rows of one KV head and walks 128-key tiles. Producer warps
// copy K and V tiles from the paged cache (cp.async through the block table, one lookup
// per key row) into a 3-stage ring of 128-byte-swizzled shared tiles and signal each full
// stage on an mbarrier; two consumer warpgroups of 64 rows each compute S = Q K^T with
// wgmma (Q and K from shared memory), the online softmax in registers, and O += P V with P
// straight from the S registers and V read MN-major from the same layout as K, then hand
// the stage back on its empty mbarrier. The two warpgroups wait on the barriers, not on
// each other, so one's softmax overlaps the other's tensor-core work.
#include "kernels/attention_kernel.h"
#include "kernels/wgmma_sm90.cuh"

namespace deltaserve::kernels::detail {
namespace {

constexpr int kRows = 128;
constexpr int kKeys = 128;
constexpr int kHeadDim = 128;
constexpr int kStages = 3;
constexpr int kGroupRows = 64;       // rows per consumer warpgroup
constexpr int kConsumerThreads = 256;
constexpr int kProducerWarps = 4;
constexpr int kProducerThreads = 32 * kProducerWarps;
constexpr int kThreads = kConsumerThreads + kProducerThreads;
// A 128x128 bf16 tile is two 64-column halves of 128 rows x 128 bytes, each row's eight
// 16-byte chunks XOR-swizzled by row % 8: wgmma's 128-byte swizzle, which also keeps
// the producer's 16-byte copies and wgmma's reads free of bank conflicts.
constexpr int kHalfBytes = kRows * 128;
constexpr int kTileBytes = 2 * kHalfBytes;
constexpr int kAlignBytes = 1024;  // the swizzle pattern repeats every 1024 bytes
constexpr int kSharedBytes = kAlignBytes + kTileBytes * (1 + 2 * kStages);

__device__ __forceinline__ std::uint32_t SwizzledOffset(int row, int chunk) {
  return static_cast<std::uint32_t>((chunk >> 3) * kHalfBytes + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

// The producer warps: tile i goes to stage i % kStages once the consumers released the
// tile kStages before it. A stage is announced full one tile later, after these warps'
// copies of it completed and were fenced for the async proxy, so the announcement never
// waits on the copies just issued.
__device__ void ProduceKeyTiles(const AttentionProblem& p, const BlockRows& b, const KeyTileList& tiles,
                                std::uint32_t k_smem, std::uint32_t v_smem, std::uint32_t full_bar,
                                std::uint32_t empty_bar) {
  constexpr int kWarpKeys = kKeys / kProducerWarps;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp_key0 = (static_cast<int>(threadIdx.x) - kConsumerThreads) / 32 * kWarpKeys;
  for (int i = 0; i < tiles.size(); ++i) {
    const int stage = i % kStages;
    if (i >= kStages) MbarrierWait(empty_bar + 8 * stage, (i / kStages - 1) & 1);
    const int first_key = tiles.at(i) * kKeys + warp_key0;
    // Lane l looks up the warp's key rows l, l + 32, ...; 16 lanes copy one row.
    std::int64_t row_offset[kWarpKeys / 32];
#pragma unroll
    for (int r = 0; r < kWarpKeys / 32; ++r) {
      row_offset[r] = KeyRowOffset(p, b.seq, b.kv_head, first_key + r * 32 + lane, b.pos_max);
    }
    const int chunk = lane % 16;
#pragma unroll
    for (int pass = 0; pass < kWarpKeys / 2; ++pass) {
      const int row = 2 * pass + lane / 16;
      const std::int64_t offset = __shfl_sync(0xffffffffu, row_offset[pass / 16], row % 32);
      const bool valid = offset >= 0;
      const std::int64_t src = valid ? offset + chunk * 8 : 0;
      const std::uint32_t dst = stage * kTileBytes + SwizzledOffset(warp_key0 + row, chunk);
      CopyAsync16(k_smem + dst, p.k + src, valid);
      CopyAsync16(v_smem + dst, p.v + src, valid);
    }
    CommitAsyncCopies();
    if (i > 0) {
      WaitAsyncCopies<1>();
      FenceProxyAsync();
      MbarrierArrive(full_bar + 8 * ((i - 1) % kStages));
    }
  }
  if (tiles.size() > 0) {
    WaitAsyncCopies<0>();
    FenceProxyAsync();
    MbarrierArrive(full_bar + 8 * ((tiles.size() - 1) % kStages));
  }
}

// One consumer warpgroup: rows [group * 64, group * 64 + 64) of the block.
__device__ void ConsumeKeyTiles(const AttentionProblem& p, const BlockRows& b, const KeyTileList& tiles,
                                const int* tile_row, const int* tile_pos, int group, std::uint32_t q_smem,
                                std::uint32_t k_smem, std::uint32_t v_smem, std::uint32_t full_bar,
                                std::uint32_t empty_bar) {
  const int group_thread = static_cast<int>(threadIdx.x) % 128;
  const int group_row0 = group * kGroupRows;
  for (int idx = group_thread; idx < kGroupRows * (kHeadDim / 8); idx += 128) {
    const int row = group_row0 + idx / (kHeadDim / 8);
    const int chunk = idx % (kHeadDim / 8);
    const bool valid = row < b.valid_rows;
    CopyAsync16(q_smem + SwizzledOffset(row, chunk), valid ? QueryChunk(p, tile_row, b, row, chunk) : p.q, valid);
  }
  CommitAsyncCopies();
  WaitAsyncCopies<0>();
  FenceProxyAsync();
  NamedBarrierSync(1 + group, 128);

  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp_row0 = group_row0 + (group_thread / 32) * 16;
  int row_pos[2];
  for (int half = 0; half < 2; ++half) {
    const int row = warp_row0 + half * 8 + lane / 4;
    row_pos[half] = row < b.valid_rows ? tile_pos[row / p.group] : -1;
  }
  // Q's descriptor for k-step kk: half kk / 4, 32 bytes per step within the 128-byte row.
  const std::uint64_t q_desc = Sw128Descriptor(q_smem + group * kGroupRows * 128, 16, 1024);
  float o[64] = {};
  float row_max[2] = {-INFINITY, -INFINITY};
  float row_sum[2] = {0.f, 0.f};

  for (int i = 0; i < tiles.size(); ++i) {
    const int stage = i % kStages;
    MbarrierWait(full_bar + 8 * stage, (i / kStages) & 1);
    const std::uint64_t k_desc = Sw128Descriptor(k_smem + stage * kTileBytes, 16, 1024);
    // V as the MN-major B operand: 64-column blocks kHalfBytes apart, 8-key groups 1024.
    const std::uint64_t v_desc = Sw128Descriptor(v_smem + stage * kTileBytes, kHalfBytes, 1024);
    float s[64];
    WgmmaFence();
#pragma unroll
    for (int kk = 0; kk < kHeadDim / 16; ++kk) {
      const std::uint64_t step = ((kk / 4) * kHalfBytes + (kk % 4) * 32) >> 4;
      WgmmaM64N128K16SS(s, q_desc + step, k_desc + step, kk);
    }
    WgmmaCommit();
    WgmmaWait<0>();
    FenceRegisters(s);

    const int key_lo = tiles.at(i) * kKeys;
    const int key_hi = key_lo + kKeys - 1;
    const bool whole_tile =
        key_hi <= b.pos_min && (p.window <= 0 || key_hi < p.sink || key_lo > b.pos_max - p.window);
    if (!whole_tile) {
#pragma unroll
      for (int t = 0; t < kKeys / 8; ++t) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = key_lo + t * 8 + 2 * (lane & 3) + (e & 1);
          if (!KeyAllowed(key, row_pos[e >> 1], p.sink, p.window)) s[4 * t + e] = -INFINITY;
        }
      }
    }
    float rescale[2];
    bool max_grew = false;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int t = 0; t < kKeys / 8; ++t) tile_max = fmaxf(tile_max, fmaxf(s[4 * t + 2 * half], s[4 * t + 2 * half + 1]));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
      const float new_max = fmaxf(row_max[half], tile_max);
      // A row with no allowed key so far keeps max -inf; subtracting 0 avoids inf - inf.
      const float shift = new_max == -INFINITY ? 0.f : new_max * p.scale_log2;
      rescale[half] = FastExp2(row_max[half] * p.scale_log2 - shift);
      float tile_sum = 0.f;
#pragma unroll
      for (int t = 0; t < kKeys / 8; ++t) {
#pragma unroll
        for (int e = 2 * half; e < 2 * half + 2; ++e) {
          s[4 * t + e] = FastExp2(s[4 * t + e] * p.scale_log2 - shift);
          tile_sum += s[4 * t + e];
        }
      }
      row_sum[half] = row_sum[half] * rescale[half] + tile_sum;
      row_max[half] = new_max;
      max_grew = max_grew || rescale[half] != 1.f;
    }
    if (__any_sync(0xffffffffu, max_grew)) {
#pragma unroll
      for (int t = 0; t < kHeadDim / 8; ++t) {
        o[4 * t] *= rescale[0];
        o[4 * t + 1] *= rescale[0];
        o[4 * t + 2] *= rescale[1];
        o[4 * t + 3] *= rescale[1];
      }
    }
    // P's A fragment for keys [16 kk, 16 kk + 16) is the S fragment of 8-key tiles 2 kk
    // and 2 kk + 1.
    std::uint32_t p_frag[kKeys / 16][4];
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
#pragma unroll
      for (int r = 0; r < 4; ++r) p_frag[kk][r] = PackBf16(s[8 * kk + 2 * r], s[8 * kk + 2 * r + 1]);
    }
    WgmmaFence();
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) WgmmaM64N128K16RS(o, p_frag[kk], v_desc + ((kk * 16 * 128) >> 4));
    WgmmaCommit();
    WgmmaWait<0>();
    FenceRegisters(o);
    MbarrierArrive(empty_bar + 8 * stage);
  }

#pragma unroll
  for (int half = 0; half < 2; ++half) {
    float sum = row_sum[half];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int row = warp_row0 + half * 8 + lane / 4;
    if (row >= b.valid_rows) continue;
    StoreOutputRow<kHeadDim>(p, tile_row, b, row, lane, sum, row_max[half], [&](int t) {
      return make_float2(o[4 * t + 2 * half], o[4 * t + 2 * half + 1]);
    });
  }
}

__global__ void __launch_bounds__(kThreads, 1) PagedAttentionSm90Kernel(const AttentionProblem p) {
  extern __shared__ unsigned char shared[];
  __shared__ int tile_row[kRows];
  __shared__ int tile_pos[kRows];
  __shared__ __align__(8) std::uint64_t full_bar[kStages];
  __shared__ __align__(8) std::uint64_t empty_bar[kStages];
  const std::uint32_t q_smem = (SharedAddress(shared) + kAlignBytes - 1) & ~static_cast<std::uint32_t>(kAlignBytes - 1);
  const std::uint32_t k_smem = q_smem + kTileBytes;
  const std::uint32_t v_smem = k_smem + kStages * kTileBytes;

  BlockRows b;
  if (!LoadBlockRows(p, tile_row, tile_pos, b)) return;
  const KeyTileList tiles = MakeKeyTileList<kKeys>(p, b.pos_min, b.pos_max);
  // A tile of at most 64 rows leaves the second warpgroup idle: it takes no part in the
  // stage hand-back either.
  const int groups = b.valid_rows > kGroupRows ? 2 : 1;
  if (threadIdx.x == 0) {
    for (int stage = 0; stage < kStages; ++stage) {
      MbarrierInit(SharedAddress(&full_bar[stage]), kProducerThreads);
      MbarrierInit(SharedAddress(&empty_bar[stage]), 128 * groups);
    }
  }
  __syncthreads();
  const int warp = static_cast<int>(threadIdx.x) / 32;
  if (warp >= kConsumerThreads / 32) {
    ProduceKeyTiles(p, b, tiles, k_smem, v_smem, SharedAddress(full_bar), SharedAddress(empty_bar));
  } else if (warp / 4 < groups) {
    ConsumeKeyTiles(p, b, tiles, tile_row, tile_pos, warp / 4, q_smem, k_smem, v_smem, SharedAddress(full_bar),
                    SharedAddress(empty_bar));
  }
}

}  // namespace

AttentionKernel Sm90AttentionKernel() {
  return {PagedAttentionSm90Kernel, kHeadDim, kRows, kKeys, kThreads, kSharedBytes};
}

}  // namespace deltaserve::kernels::detail
