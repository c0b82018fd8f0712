// The wgmma tile engine of the paged attention kernel (Hopper, sm_90a, head_dim 128): two
// warpgroups of 64 query rows each share every K/V tile (warp w of a warpgroup holds rows
// 16w..16w+15; the wgmma accumulator layout is the mma.sync one per warp). S = Q K^T with
// both operands read by the tensor cores from shared memory, O += P V with P from
// registers. 128-row blocks halve the K/V bytes per FLOP against 64-row ones (measured
// latency-bound at 64 rows and two K/V stages); one block per SM leaves room for four
// stages. Shared tiles use the no-swizzle core-matrix layout: 8 rows x 16 bytes
// contiguous, row groups kChunks core matrices apart.
#pragma once

#include <cstdint>

#include "kernels/mma_sm80.cuh"
#include "kernels/wgmma_sm90.cuh"

namespace deltaserve::kernels::detail {

struct Sm90Tiles {
  static constexpr int kRows = 128;
  static constexpr int kKeys = 64;
  static constexpr int kStages = 4;
  static constexpr int kThreads = 256;
  static constexpr int kBlocksPerSm = 1;
  static constexpr int kMTiles = 1;
  static constexpr int kUnitRows = 64;  // wgmma runs on a whole warpgroup
  static constexpr int kCoreBytes = 128;

  template <int kHeadDim>
  static constexpr int RowBytes() {
    return kHeadDim * 2;
  }

  template <int kHeadDim>
  __device__ static std::uint32_t Offset(int row, int chunk) {
    return static_cast<std::uint32_t>((row / 8) * (kHeadDim / 8) * kCoreBytes + chunk * kCoreBytes +
                                      (row % 8) * 16);
  }

  __device__ static void PublishSharedTiles() { FenceSharedForAsyncProxy(); }

  // score[0][t] = this warp's 16 Q rows times keys 8t..8t+7 of the tile at k_stage.
  template <int kHeadDim>
  __device__ static void Scores(float (&score)[kMTiles][kKeys / 8][4], std::uint32_t q_smem,
                                std::uint32_t k_stage, int warp, int /*lane*/) {
    static_assert(kHeadDim == 128, "the Hopper engine serves head_dim 128");
    constexpr std::uint32_t kRowGroupBytes = kHeadDim / 8 * kCoreBytes;
    const std::uint32_t q_rows = q_smem + warp / 4 * (kUnitRows / 8) * kRowGroupBytes;
    float(&d)[kKeys / 2] = reinterpret_cast<float(&)[kKeys / 2]>(score);
    WgmmaFence();
#pragma unroll
    for (int i = 0; i < kKeys / 2; ++i) PinRegister(d[i]);
#pragma unroll
    for (int kk = 0; kk < kHeadDim / 16; ++kk) {
      // A k16 slice is two core matrices along K: kCoreBytes apart, the row groups
      // kRowGroupBytes apart, for Q and K alike (both K-major).
      WgmmaM64N64K16(d, MatrixDescriptor(q_rows + kk * 2 * kCoreBytes, kCoreBytes, kRowGroupBytes),
                     MatrixDescriptor(k_stage + kk * 2 * kCoreBytes, kCoreBytes, kRowGroupBytes),
                     kk > 0);
    }
    WgmmaCommitAndWait();
#pragma unroll
    for (int i = 0; i < kKeys / 2; ++i) PinRegister(d[i]);
  }

  // acc[0] += P * V, P the softmax weights left in score.
  template <int kHeadDim>
  __device__ static void AccumulatePv(float (&acc)[kMTiles][kHeadDim / 8][4],
                                      const float (&score)[kMTiles][kKeys / 8][4],
                                      std::uint32_t v_stage, int /*lane*/) {
    constexpr std::uint32_t kRowGroupBytes = kHeadDim / 8 * kCoreBytes;
    std::uint32_t p_frag[kKeys / 16][4];
#pragma unroll
    for (int j = 0; j < kKeys / 16; ++j) PackWeights(p_frag[j], score[0], j);
    float(&d)[kHeadDim / 2] = reinterpret_cast<float(&)[kHeadDim / 2]>(acc);
    WgmmaFence();
#pragma unroll
    for (int i = 0; i < kHeadDim / 2; ++i) PinRegister(d[i]);
#pragma unroll
    for (int j = 0; j < kKeys / 16; ++j) {
      // V is MN-major here (N = head dim contiguous): the K direction (keys) steps by row
      // groups (the leading offset), the N direction by core matrices (the stride).
      WgmmaM64N128K16(d, p_frag[j],
                      MatrixDescriptor(v_stage + j * 2 * kRowGroupBytes, kRowGroupBytes, kCoreBytes));
    }
    WgmmaCommitAndWait();
#pragma unroll
    for (int i = 0; i < kHeadDim / 2; ++i) PinRegister(d[i]);
  }
};

}  // namespace deltaserve::kernels::detail
