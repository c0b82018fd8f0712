// The Hopper attention kernel: the same problem, masks, grid and key splits as
// PagedAttentionKernel (paged_attention_kernel.cuh), computed FlashAttention-3 style.
//
// A block owns 128 query rows of one KV head and walks 128-key tiles. A producer warp
// loads K and V tiles from the paged cache with TMA (one box per cache block's rows of the
// tile and 64-column half, through the block table) into a 3-stage ring of
// 128-byte-swizzled shared tiles, each stage completing on an mbarrier when its bytes have
// landed; two consumer warpgroups of 64 rows each compute S = Q K^T with wgmma (Q and K
// from shared memory), the online softmax in registers, and O += P V with P straight from
// the S registers and V read MN-major from the same layout as K, then hand the stage back
// on its empty mbarrier. Each warpgroup issues tile i's S together with tile i-1's P V and
// runs tile i's softmax while that P V is in flight. The two warpgroups wait on the
// barriers, not on each other: making them take turns on the tensor cores (FA3's
// ping-pong) was measured no faster on top of the overlap.
#include <cudaTypedefs.h>

#include <algorithm>
#include <cstdint>

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
// And a producer warpgroup, of which one warp loads: a whole warpgroup, because only a
// warpgroup can hand its registers to the consumers (setmaxnreg), whose overlapped tiles
// need more than the 168 a thread that 384 threads start with.
constexpr int kThreads = kConsumerThreads + 128;
constexpr int kProducerRegisters = 24;
constexpr int kConsumerRegisters = 240;
// A 128x128 bf16 tile is two 64-column halves of 128 rows x 128 bytes, each row's eight
// 16-byte chunks XOR-swizzled by row % 8: wgmma's 128-byte swizzle, which TMA writes as
// CU_TENSOR_MAP_SWIZZLE_128B and which keeps Q's 16-byte copies free of bank conflicts.
constexpr int kHalfBytes = kRows * 128;
constexpr int kTileBytes = 2 * kHalfBytes;
constexpr int kAlignBytes = 1024;  // the swizzle pattern repeats every 1024 bytes
constexpr int kSharedBytes = kAlignBytes + kTileBytes * (1 + 2 * kStages);

__device__ __forceinline__ std::uint32_t SwizzledOffset(int row, int chunk) {
  return static_cast<std::uint32_t>((chunk >> 3) * kHalfBytes + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

// The producer warp: tile i goes to stage i % kStages once the consumers released the
// tile kStages before it. Lane 0 tells the stage's full barrier to expect the tile's K and
// V bytes; lane j then loads page j of the tile, its min(block_size, 128) keys of one cache
// block, as two 64-column boxes each of K and V. attention.cu picks this kernel only for
// block sizes that make a tile whole pages of a multiple of 8 rows, so that every box
// starts on the 1024-byte boundary its swizzle is anchored on. A page that starts past
// the last query position is not looked up: it reads block -1, out of bounds, which TMA
// fills with zeros (and counts their bytes, as the barrier expects), keeping masked P·V
// finite.
__device__ void ProduceKeyTiles(const AttentionProblem& p, const BlockRows& b, const KeyTileList& tiles,
                                std::uint32_t k_smem, std::uint32_t v_smem, std::uint32_t full_bar,
                                std::uint32_t empty_bar) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int box_rows = min(p.block_size, kKeys);
  const int pages = kKeys / box_rows;
  const int* table = p.block_tables + static_cast<std::int64_t>(b.seq) * p.max_blocks_per_seq;
  for (int i = 0; i < tiles.size(); ++i) {
    const int stage = i % kStages;
    if (i >= kStages) MbarrierWait(empty_bar + 8 * stage, (i / kStages - 1) & 1);
    const std::uint32_t full = full_bar + 8 * stage;
    if (lane == 0) MbarrierArriveExpectTx(full, 2 * kTileBytes);
    __syncwarp();  // the barrier expects the bytes before any load completes them
    if (lane < pages) {
      const int key0 = tiles.at(i) * kKeys + lane * box_rows;
      const int block = key0 <= b.pos_max ? table[key0 / p.block_size] : -1;
      const int slot0 = key0 % p.block_size;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const std::uint32_t dst = stage * kTileBytes + half * kHalfBytes + lane * box_rows * 128;
        TmaLoad4d(k_smem + dst, &p.k_map, half * 64, b.kv_head, slot0, block, full);
        TmaLoad4d(v_smem + dst, &p.v_map, half * 64, b.kv_head, slot0, block, full);
      }
    }
  }
}

// The online-softmax state of a thread's two rows (8 rows apart) and what it needs of
// the problem, read once: p's tensor maps' addresses reach asm statements (the producer's
// TMA loads), so the compiler reloads p's fields after every asm with a memory clobber,
// and reloading these in the unrolled mask and softmax loops spilled registers.
struct RowSoftmax {
  int pos[2];  // -1 for a row past valid_rows
  int sink;
  int window;
  float scale_log2;
  float max[2] = {-INFINITY, -INFINITY};
  float sum[2] = {0.f, 0.f};
};

// Masks S of key tile [key_lo, key_lo + kKeys) and turns it into P (fp32, unnormalised)
// against the grown running maximum; rescale[h] is what output rows accumulated so far
// must be multiplied by. True when either factor is not 1 in any lane of the warp.
__device__ __forceinline__ bool SoftmaxTile(float (&s)[64], RowSoftmax& r, const BlockRows& b, int key_lo,
                                            int lane, float (&rescale)[2]) {
  const int key_hi = key_lo + kKeys - 1;
  const bool whole_tile =
      key_hi <= b.pos_min && (r.window <= 0 || key_hi < r.sink || key_lo > b.pos_max - r.window);
  if (!whole_tile) {
#pragma unroll
    for (int t = 0; t < kKeys / 8; ++t) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = key_lo + t * 8 + 2 * (lane & 3) + (e & 1);
        if (!KeyAllowed(key, r.pos[e >> 1], r.sink, r.window)) s[4 * t + e] = -INFINITY;
      }
    }
  }
  bool max_grew = false;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    float tile_max = -INFINITY;
#pragma unroll
    for (int t = 0; t < kKeys / 8; ++t) tile_max = fmaxf(tile_max, fmaxf(s[4 * t + 2 * half], s[4 * t + 2 * half + 1]));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    const float new_max = fmaxf(r.max[half], tile_max);
    // A row with no allowed key so far keeps max -inf; subtracting 0 avoids inf - inf.
    const float shift = new_max == -INFINITY ? 0.f : new_max * r.scale_log2;
    rescale[half] = FastExp2(r.max[half] * r.scale_log2 - shift);
    float tile_sum = 0.f;
#pragma unroll
    for (int t = 0; t < kKeys / 8; ++t) {
#pragma unroll
      for (int e = 2 * half; e < 2 * half + 2; ++e) {
        s[4 * t + e] = FastExp2(s[4 * t + e] * r.scale_log2 - shift);
        tile_sum += s[4 * t + e];
      }
    }
    r.sum[half] = r.sum[half] * rescale[half] + tile_sum;
    r.max[half] = new_max;
    max_grew = max_grew || rescale[half] != 1.f;
  }
  return __any_sync(0xffffffffu, max_grew);
}

// P's A fragment for keys [16 kk, 16 kk + 16) is the S fragment of 8-key tiles 2 kk and
// 2 kk + 1.
__device__ __forceinline__ void PackProbabilities(const float (&s)[64], std::uint32_t (&p_frag)[kKeys / 16][4]) {
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk) {
#pragma unroll
    for (int r = 0; r < 4; ++r) p_frag[kk][r] = PackBf16(s[8 * kk + 2 * r], s[8 * kk + 2 * r + 1]);
  }
}

__device__ __forceinline__ void RescaleOutput(float (&o)[64], const float (&rescale)[2]) {
#pragma unroll
  for (int t = 0; t < kHeadDim / 8; ++t) {
    o[4 * t] *= rescale[0];
    o[4 * t + 1] *= rescale[0];
    o[4 * t + 2] *= rescale[1];
    o[4 * t + 3] *= rescale[1];
  }
}

// S = Q K^T with K in stage `stage`, issued as one wgmma group (not waited for).
__device__ __forceinline__ void IssueScores(float (&s)[64], std::uint64_t q_desc, std::uint32_t k_smem, int stage) {
  const std::uint64_t k_desc = Sw128Descriptor(k_smem + stage * kTileBytes, 16, 1024);
#pragma unroll
  for (int kk = 0; kk < kHeadDim / 16; ++kk) {
    // Q's and K's k-step kk: half kk / 4, 32 bytes per step within the 128-byte row.
    const std::uint64_t step = ((kk / 4) * kHalfBytes + (kk % 4) * 32) >> 4;
    WgmmaM64N128K16SS(s, q_desc + step, k_desc + step, kk);
  }
  WgmmaCommit();
}

// O += P V with V in stage `stage`, issued as one wgmma group (not waited for).
__device__ __forceinline__ void IssueValues(float (&o)[64], const std::uint32_t (&p_frag)[kKeys / 16][4],
                                            std::uint32_t v_smem, int stage) {
  // V as the MN-major B operand: 64-column blocks kHalfBytes apart, 8-key groups 1024.
  const std::uint64_t v_desc = Sw128Descriptor(v_smem + stage * kTileBytes, kHalfBytes, 1024);
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk) WgmmaM64N128K16RS(o, p_frag[kk], v_desc + ((kk * 16 * 128) >> 4));
  WgmmaCommit();
}

// One consumer warpgroup: rows [group * 64, group * 64 + 64) of the block. Tile i's
// S = Q K^T is issued together with tile i-1's O += P V, and tile i's softmax runs while
// that P V is in flight (FlashAttention-3's intra-warpgroup overlap), so the tensor cores
// are not idle for the softmax of every tile; O is rescaled once P V has landed.
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
  RowSoftmax r;
  for (int half = 0; half < 2; ++half) {
    const int row = warp_row0 + half * 8 + lane / 4;
    r.pos[half] = row < b.valid_rows ? tile_pos[row / p.group] : -1;
  }
  r.sink = p.sink;
  r.window = p.window;
  r.scale_log2 = p.scale_log2;
  const std::uint64_t q_desc = Sw128Descriptor(q_smem + group * kGroupRows * 128, 16, 1024);
  float o[64] = {};
  float s[64];
  std::uint32_t p_frag[kKeys / 16][4];
  float rescale[2];
  const int n = tiles.size();
  if (n > 0) {
    MbarrierWait(full_bar, 0);
    WgmmaFence();
    IssueScores(s, q_desc, k_smem, 0);
    WgmmaWait<0>();
    FenceRegisters(s);
    SoftmaxTile(s, r, b, tiles.at(0) * kKeys, lane, rescale);  // O is still 0: no rescale
    PackProbabilities(s, p_frag);
  }
  for (int i = 1; i < n; ++i) {
    const int stage = i % kStages;
    const int previous = (i - 1) % kStages;
    MbarrierWait(full_bar + 8 * stage, (i / kStages) & 1);
    WgmmaFence();
    IssueScores(s, q_desc, k_smem, stage);
    IssueValues(o, p_frag, v_smem, previous);
    WgmmaWait<1>();
    FenceRegisters(s);
    const bool rescale_o = SoftmaxTile(s, r, b, tiles.at(i) * kKeys, lane, rescale);
    WgmmaWait<0>();
    FenceRegisters(o);
    FenceRegisters(p_frag);
    MbarrierArrive(empty_bar + 8 * previous);
    if (rescale_o) RescaleOutput(o, rescale);
    PackProbabilities(s, p_frag);
  }
  if (n > 0) {
    const int last = (n - 1) % kStages;
    WgmmaFence();
    IssueValues(o, p_frag, v_smem, last);
    WgmmaWait<0>();
    FenceRegisters(o);
    MbarrierArrive(empty_bar + 8 * last);
  }

#pragma unroll
  for (int half = 0; half < 2; ++half) {
    float sum = r.sum[half];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int row = warp_row0 + half * 8 + lane / 4;
    if (row >= b.valid_rows) continue;
    StoreOutputRow<kHeadDim>(p, tile_row, b, tiles.whole, row, lane, sum, r.max[half], [&](int t) {
      return make_float2(o[4 * t + 2 * half], o[4 * t + 2 * half + 1]);
    });
  }
}

// __grid_constant__ keeps p in parameter space, where TMA may read its descriptors (a
// plain by-value parameter may be copied to local memory, where it may not).
__global__ void __launch_bounds__(kThreads, 1) PagedAttentionSm90Kernel(const __grid_constant__ AttentionProblem p) {
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
  if (tiles.whole && blockIdx.z > 0) return;  // split 0 walks this block's keys alone
  // A tile of at most 64 rows leaves the second warpgroup idle: it takes no part in the
  // stage hand-back either.
  const int groups = b.valid_rows > kGroupRows ? 2 : 1;
  if (threadIdx.x == 0) {
    for (int stage = 0; stage < kStages; ++stage) {
      MbarrierInit(SharedAddress(&full_bar[stage]), 1);  // the producer's expect_tx arrival
      MbarrierInit(SharedAddress(&empty_bar[stage]), 128 * groups);
    }
  }
  __syncthreads();
  const int warp = static_cast<int>(threadIdx.x) / 32;
  if (warp >= kConsumerThreads / 32) {
    DecreaseMaxRegisters<kProducerRegisters>();
    if (warp == kConsumerThreads / 32) {
      ProduceKeyTiles(p, b, tiles, k_smem, v_smem, SharedAddress(full_bar), SharedAddress(empty_bar));
    }
    return;
  }
  IncreaseMaxRegisters<kConsumerRegisters>();
  if (warp / 4 < groups) {
    ConsumeKeyTiles(p, b, tiles, tile_row, tile_pos, warp / 4, q_smem, k_smem, v_smem, SharedAddress(full_bar),
                    SharedAddress(empty_bar));
  }
}

// cuTensorMapEncodeTiled, from the driver the runtime loaded (nothing links libcuda);
// nullptr if the driver lacks it.
PFN_cuTensorMapEncodeTiled_v12000 TensorMapEncoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    const cudaError_t err =
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found);
    return err == cudaSuccess && found == cudaDriverEntryPointSuccess
               ? reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn)
               : nullptr;
  }();
  return encode;
}

// K or V as a 4-d tensor [blocks][slots][KV heads][columns], in boxes of 64 columns (128
// bytes, the swizzle span) of one head's rows of one block: box_rows rows, the block's
// share of a key tile.
bool EncodeKvMap(PFN_cuTensorMapEncodeTiled_v12000 encode, const AttentionProblem& p, const void* base,
                 CUtensorMap& map) {
  constexpr std::uint64_t kBytes = sizeof(__nv_bfloat16);
  const cuuint64_t dims[4] = {kHeadDim, static_cast<cuuint64_t>(p.num_kv_heads),
                              static_cast<cuuint64_t>(p.block_size), static_cast<cuuint64_t>(p.kv_num_blocks)};
  const cuuint64_t strides[3] = {p.kv_head_stride * kBytes, p.kv_token_stride * kBytes, p.kv_block_stride * kBytes};
  const cuuint32_t box[4] = {64, 1, static_cast<cuuint32_t>(std::min(p.block_size, kKeys)), 1};
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  return encode(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, const_cast<void*>(base), dims, strides, box,
                element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

cudaError_t EncodeKvMaps(AttentionProblem& p) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = TensorMapEncoder();
  const bool encoded = encode && EncodeKvMap(encode, p, p.k, p.k_map) && EncodeKvMap(encode, p, p.v, p.v_map);
  return encoded ? cudaSuccess : cudaErrorInvalidValue;
}

}  // namespace

AttentionKernel Sm90AttentionKernel() {
  return {PagedAttentionSm90Kernel, kHeadDim, kRows, kKeys, kThreads, kSharedBytes, EncodeKvMaps};
}

}  // namespace deltaserve::kernels::detail
