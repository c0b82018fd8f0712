// Paged decode attention for a ragged batch (one query per sequence at its last position)
// equals the float64 reference, with split key ranges and without, on the one-warp 16-row
// tile (groups up to 16) and the 128-row tile (larger groups), and when the launch's
// max_seq_len is a CUDA graph's bound far above every real length.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "tests/kernels/attention_reference.h"

namespace deltaserve::kernels::testing {
namespace {

struct DecodeCase {
  std::string name;
  int head_dim;
  int num_heads;
  int num_kv_heads;
  int block_size;
  std::vector<int> seq_lens;
  bool split_keys;  // give the launch a workspace so it splits key ranges
  int max_seq_len = 0;  // the launch's bound on seq_lens (a graph's max_model_len); 0: the longest
};

class DecodeAttentionTest : public ::testing::TestWithParam<DecodeCase> {};

// `count` lengths spread over [1, longest] (the last is `longest`): a batch whose unsplit
// grid (count x KV heads blocks) is a busy GPU's half wave or more, where splits take at
// least kMinKeyTilesPerBusySplit tiles.
std::vector<int> ManyLengths(int count, int longest) {
  std::vector<int> lengths;
  for (int i = 1; i <= count; ++i) lengths.push_back(std::max(1, static_cast<int>(std::int64_t{longest} * i / count)));
  return lengths;
}

TEST_P(DecodeAttentionTest, MatchesFloat64Reference) {
  const DecodeCase& c = GetParam();
  std::mt19937 rng(std::hash<std::string>{}(c.name));
  const int num_seqs = static_cast<int>(c.seq_lens.size());
  const HostPagedCache host_cache = RandomPagedCache(c.seq_lens, c.num_kv_heads, c.head_dim, c.block_size, rng);
  const std::int64_t row_elems = static_cast<std::int64_t>(c.num_heads) * c.head_dim;
  const std::vector<Bf16Bits> q = RandomBf16(num_seqs * row_elems, 1.f, rng);
  std::vector<QueryRow> rows;
  for (int s = 0; s < num_seqs; ++s) rows.push_back({s, s, c.seq_lens[s] - 1});
  DeviceBuffer<Bf16Bits> q_dev(q);
  DeviceBuffer<Bf16Bits> out_dev(q.size());
  DeviceBuffer<std::int32_t> lens_dev(std::vector<std::int32_t>(c.seq_lens.begin(), c.seq_lens.end()));
  const std::size_t workspace_bytes =
      c.split_keys ? GatheredAttentionWorkspaceBytes(num_seqs, c.num_heads, c.head_dim, kMaxKeySplits) : 0;
  DeviceBuffer<unsigned char> workspace(workspace_bytes);
  DeviceCache cache(host_cache);

  DecodeAttentionArgs args;
  args.q = {q_dev.get(), row_elems, c.head_dim};
  args.out = {out_dev.get(), row_elems, c.head_dim};
  args.num_heads = c.num_heads;
  args.num_seqs = num_seqs;
  args.max_seq_len = c.max_seq_len > 0 ? c.max_seq_len : *std::max_element(c.seq_lens.begin(), c.seq_lens.end());
  args.seq_lens = lens_dev.get();
  args.cache = cache.View();
  args.softmax_scale = 1.f / std::sqrt(static_cast<float>(c.head_dim));
  if (c.split_keys) {
    ASSERT_GT(DecodeAttentionSplits(args, workspace_bytes), 1) << "the case must split";
  }
  DS_ASSERT_CUDA(DecodeAttention(args, c.split_keys ? workspace.get() : nullptr, workspace_bytes, nullptr));
  DS_ASSERT_CUDA(cudaDeviceSynchronize());

  const std::vector<double> want = ReferenceRows(host_cache, FromBf16(q), c.num_heads, rows, {}, args.softmax_scale);
  EXPECT_LT(RelativeError(FromBf16(out_dev.Download()), want), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DecodeAttentionTest,
    ::testing::Values(
        DecodeCase{"ragged_d128_gqa4_split", 128, 32, 8, 16, {1, 17, 300, 1500, 64}, true},
        DecodeCase{"ragged_d128_gqa4_whole", 128, 32, 8, 16, {1, 17, 300, 1500, 64}, false},
        DecodeCase{"ragged_d64_mha_split", 64, 4, 4, 32, {2000, 5, 129}, true},
        DecodeCase{"gqa8_small_tile_d128_split", 128, 16, 2, 16, {3, 333, 1200, 47}, true},
        DecodeCase{"gqa16_small_tile_d64_split", 64, 32, 2, 32, {1000, 17, 2100}, true},
        DecodeCase{"gqa16_small_tile_d128_whole", 128, 32, 2, 16, {1000, 17, 2100}, false},
        DecodeCase{"gqa32_large_tile_d128_split", 128, 32, 1, 16, {5, 1800, 640}, true},
        DecodeCase{"gqa32_large_tile_d64_whole", 64, 64, 2, 16, {900, 33}, false},
        // Splits sized for 131072 keys: each block spreads its real keys over the first
        // splits and leaves the rest empty (lse -inf) for the merge; a list shorter than
        // two splits' minimum stays whole in split 0, which writes the output itself.
        DecodeCase{"graph_max_len_ragged_to_3000_d128_gqa4_split", 128, 32, 8, 16, {1, 40, 513, 1000, 2047, 3000}, true, 131072},
        DecodeCase{"graph_max_len_ragged_to_3000_d64_gqa32_large_tile_split", 64, 32, 1, 16, {3000, 2, 770}, true, 131072},
        // 64 sequences x 8 KV heads: splits of at least 32 tiles; in the graph cases a list
        // under 64 tiles is written whole by its block's first split, the 2047-key one
        // (64 tiles) is cut in two.
        DecodeCase{"busy_grid_ragged_to_4096_d128_gqa4_split", 128, 32, 8, 16, ManyLengths(64, 4096), true},
        DecodeCase{"busy_grid_graph_max_len_ragged_to_1024_d128_gqa4_split", 128, 32, 8, 16, ManyLengths(64, 1024),
                   true, 131072},
        DecodeCase{"busy_grid_graph_max_len_ragged_to_2047_d128_gqa4_split", 128, 32, 8, 16, ManyLengths(64, 2047),
                   true, 131072}),
    [](const ::testing::TestParamInfo<DecodeCase>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace deltaserve::kernels::testing
