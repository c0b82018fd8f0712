// Packed varlen prefill attention (dense and sink + window, chunked) over a paged cache
// with shuffled block tables equals the float64 reference on every row and head.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "tests/kernels/attention_reference.h"

namespace deltaserve::kernels::testing {
namespace {

struct Chunk {
  int start;  // cached tokens before the chunk
  int len;
};

struct PrefillCase {
  std::string name;
  int head_dim;
  int num_heads;
  int num_kv_heads;
  int block_size;
  std::vector<Chunk> chunks;
  AttentionMask mask;
};

class PrefillAttentionTest : public ::testing::TestWithParam<PrefillCase> {};

TEST_P(PrefillAttentionTest, MatchesFloat64Reference) {
  const PrefillCase& c = GetParam();
  std::mt19937 rng(std::hash<std::string>{}(c.name));
  std::vector<int> seq_lens;
  std::vector<std::int32_t> cu{0};
  std::vector<std::int32_t> starts;
  std::vector<QueryRow> rows;
  int max_len = 0;
  for (std::size_t s = 0; s < c.chunks.size(); ++s) {
    const Chunk& chunk = c.chunks[s];
    seq_lens.push_back(chunk.start + chunk.len);
    starts.push_back(chunk.start);
    for (int t = 0; t < chunk.len; ++t) rows.push_back({static_cast<int>(s), cu.back() + t, chunk.start + t});
    cu.push_back(cu.back() + chunk.len);
    max_len = std::max(max_len, chunk.len);
  }
  const HostPagedCache host_cache = RandomPagedCache(seq_lens, c.num_kv_heads, c.head_dim, c.block_size, rng);
  const std::int64_t row_elems = static_cast<std::int64_t>(c.num_heads) * c.head_dim;
  const std::vector<Bf16Bits> q = RandomBf16(cu.back() * row_elems, 1.f, rng);
  DeviceBuffer<Bf16Bits> q_dev(q);
  DeviceBuffer<Bf16Bits> out_dev(q.size());
  DeviceBuffer<std::int32_t> cu_dev(cu);
  DeviceBuffer<std::int32_t> starts_dev(starts);
  DeviceCache cache(host_cache);

  PrefillAttentionArgs args;
  args.q = {q_dev.get(), row_elems, c.head_dim};
  args.out = {out_dev.get(), row_elems, c.head_dim};
  args.num_heads = c.num_heads;
  args.num_seqs = static_cast<int>(c.chunks.size());
  args.max_seqlen_q = max_len;
  args.cu_seqlens_q = cu_dev.get();
  args.start_pos = starts_dev.get();
  args.cache = cache.View();
  args.mask = c.mask;
  args.softmax_scale = 1.f / std::sqrt(static_cast<float>(c.head_dim));
  DS_ASSERT_CUDA(PrefillAttention(args, nullptr));
  DS_ASSERT_CUDA(cudaDeviceSynchronize());

  const std::vector<double> want = ReferenceRows(host_cache, FromBf16(q), c.num_heads, rows, c.mask, args.softmax_scale);
  EXPECT_LT(RelativeError(FromBf16(out_dev.Download()), want), 1e-2);
}

constexpr AttentionMask kDense{};
constexpr AttentionMask kSparse{40, 100};  // sink and window off the 64-key tile grid

INSTANTIATE_TEST_SUITE_P(
    Shapes, PrefillAttentionTest,
    ::testing::Values(
        PrefillCase{"dense_d128_gqa4", 128, 8, 2, 16, {{0, 300}, {0, 77}, {200, 150}}, kDense},
        PrefillCase{"sparse_d128_gqa4", 128, 8, 2, 16, {{0, 300}, {0, 77}, {200, 150}}, kSparse},
        PrefillCase{"dense_d64_mha", 64, 4, 4, 32, {{0, 129}, {65, 64}}, kDense},
        PrefillCase{"sparse_d64_mha", 64, 4, 4, 32, {{0, 257}, {300, 20}}, kSparse},
        PrefillCase{"sparse_d128_gqa8", 128, 16, 2, 16, {{0, 190}, {130, 70}}, kSparse},
        PrefillCase{"dense_d64_gqa3", 64, 6, 2, 8, {{0, 100}, {31, 45}}, kDense},
        PrefillCase{"sink_covers_window_d128", 128, 8, 2, 16, {{0, 200}}, AttentionMask{150, 64}},
        // Many key tiles per query tile: the K/V pipeline wraps its stages several times.
        PrefillCase{"dense_d128_gqa4_long", 128, 8, 2, 64, {{0, 1100}, {900, 260}}, kDense},
        // On Hopper: a key tile as 16 TMA pages of 8 rows, as half of a 256-slot block,
        // and a block size TMA cannot tile (48), which the portable kernel serves.
        PrefillCase{"dense_d128_gqa4_block8", 128, 8, 2, 8, {{0, 300}, {100, 77}}, kDense},
        PrefillCase{"sparse_d128_gqa4_block256", 128, 8, 2, 256, {{0, 600}, {300, 150}}, kSparse},
        PrefillCase{"dense_d128_gqa4_block48", 128, 8, 2, 48, {{0, 200}, {50, 100}}, kDense}),
    [](const ::testing::TestParamInfo<PrefillCase>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace deltaserve::kernels::testing
