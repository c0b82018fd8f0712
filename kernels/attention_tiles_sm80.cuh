// The mma.sync tile engine of the paged attention kernel (sm_80 and later): 4 warps x 32
// query rows, two m16 tiles per warp that share every K and V fragment, Q re-read from
// shared memory each key tile (holding it would not fit the 32 rows' accumulators in 255
// registers). 32-key tiles: 64 would spill. Shared tiles use padded rows for ldmatrix.
#pragma once

#include <cstdint>

#include "kernels/mma_sm80.cuh"

namespace deltaserve::kernels::detail {

struct Sm80Tiles {
  static constexpr int kRows = 128;
  static constexpr int kKeys = 32;
  static constexpr int kStages = 3;  // small key tiles need more in flight to hide latency
  static constexpr int kThreads = 128;
  static constexpr int kBlocksPerSm = 2;
  static constexpr int kMTiles = 2;  // m16 tiles per warp
  static constexpr int kUnitRows = kMTiles * 16;  // rows of one warp

  template <int kHeadDim>
  static constexpr int RowBytes() {
    return PaddedRowBytes<kHeadDim>();
  }

  template <int kHeadDim>
  __device__ static std::uint32_t Offset(int row, int chunk) {
    return PaddedOffset<kHeadDim>(row, chunk);
  }

  // ldmatrix reads what cp.async wrote once a barrier separates them.
  __device__ static void PublishSharedTiles() {}

  // score[m][t] = Q rows of m16 tile m times keys 8t..8t+7 of the tile at k_stage.
  template <int kHeadDim>
  __device__ static void Scores(float (&score)[kMTiles][kKeys / 8][4], std::uint32_t q_smem,
                                std::uint32_t k_stage, int warp, int lane) {
    const int ld_group = lane >> 3;  // which 8x8 matrix of an ldmatrix.x4 this lane addresses
    const std::uint32_t q_frags = Opaque(
        q_smem + PaddedOffset<kHeadDim>(warp * kMTiles * 16 + (ld_group & 1) * 8 + (lane & 7), ld_group >> 1));
    const std::uint32_t k_frags =
        Opaque(k_stage + PaddedOffset<kHeadDim>((ld_group >> 1) * 8 + (lane & 7), ld_group & 1));
#pragma unroll
    for (int m = 0; m < kMTiles; ++m) {
#pragma unroll
      for (int t = 0; t < kKeys / 8; ++t) {
#pragma unroll
        for (int e = 0; e < 4; ++e) score[m][t][e] = 0.f;
      }
    }
#pragma unroll
    for (int kk = 0; kk < kHeadDim / 16; ++kk) {
      std::uint32_t a[kMTiles][4];
#pragma unroll
      for (int m = 0; m < kMTiles; ++m) LoadMatrixX4(a[m], q_frags + PaddedOffset<kHeadDim>(m * 16, kk * 2));
#pragma unroll
      for (int nn = 0; nn < kKeys / 16; ++nn) {
        std::uint32_t b[4];
        LoadMatrixX4(b, k_frags + PaddedOffset<kHeadDim>(nn * 16, kk * 2));
#pragma unroll
        for (int m = 0; m < kMTiles; ++m) {
          MmaBf16(score[m][2 * nn], a[m], b[0], b[1]);
          MmaBf16(score[m][2 * nn + 1], a[m], b[2], b[3]);
        }
      }
    }
  }

  // acc[m] += P[m] * V, P the softmax weights left in score.
  template <int kHeadDim>
  __device__ static void AccumulatePv(float (&acc)[kMTiles][kHeadDim / 8][4],
                                      const float (&score)[kMTiles][kKeys / 8][4],
                                      std::uint32_t v_stage, int lane) {
    const int ld_group = lane >> 3;
    const std::uint32_t v_frags =
        Opaque(v_stage + PaddedOffset<kHeadDim>((ld_group & 1) * 8 + (lane & 7), ld_group >> 1));
#pragma unroll
    for (int j = 0; j < kKeys / 16; ++j) {
      std::uint32_t p_frag[kMTiles][4];
#pragma unroll
      for (int m = 0; m < kMTiles; ++m) PackWeights(p_frag[m], score[m], j);
#pragma unroll
      for (int dd = 0; dd < kHeadDim / 16; ++dd) {
        std::uint32_t b[4];
        LoadMatrixX4Transposed(b, v_frags + PaddedOffset<kHeadDim>(j * 16, dd * 2));
#pragma unroll
        for (int m = 0; m < kMTiles; ++m) {
          MmaBf16(acc[m][2 * dd], p_frag[m], b[0], b[1]);
          MmaBf16(acc[m][2 * dd + 1], p_frag[m], b[2], b[3]);
        }
      }
    }
  }
};

}  // namespace deltaserve::kernels::detail
