// Attention for the gathered anchor and tail rows of Delta Attention (rows of the plan in
// kernels/delta_plan.h), with and without split key ranges, equals the float64 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/delta_plan.h"
#include "tests/kernels/attention_reference.h"

namespace deltaserve::kernels::testing {
namespace {

struct PromptChunk {
  int start;
  int len;
  int prompt_len;
};

struct GatheredCase {
  std::string name;
  int head_dim;
  int num_heads;
  int num_kv_heads;
  int block_size;
  int lambda;
  std::vector<PromptChunk> chunks;
  AttentionMask mask;
  bool split_keys;  // give the launch a workspace so it may split key ranges
};

class GatheredAttentionTest : public ::testing::TestWithParam<GatheredCase> {};

TEST_P(GatheredAttentionTest, MatchesFloat64Reference) {
  const GatheredCase& c = GetParam();
  std::mt19937 rng(std::hash<std::string>{}(c.name));
  std::vector<int> seq_lens;
  std::vector<std::int32_t> cu_rows{0};
  std::vector<std::int32_t> row_token;
  std::vector<std::int32_t> row_pos;
  std::vector<QueryRow> rows;
  int q_rows = 0;
  int max_rows = 0;
  int max_pos = 0;
  for (std::size_t s = 0; s < c.chunks.size(); ++s) {
    const PromptChunk& chunk = c.chunks[s];
    seq_lens.push_back(chunk.start + chunk.len);
    const DeltaChunkPlan plan = MakeDeltaChunkPlan(chunk.start, chunk.len, chunk.prompt_len, c.lambda);
    for (int r = 0; r < plan.num_dense_rows(); ++r) {
      const int pos = plan.dense_row_position(r);
      row_token.push_back(q_rows + pos - chunk.start);
      row_pos.push_back(pos);
      rows.push_back({static_cast<int>(s), row_token.back(), pos});
      max_pos = std::max(max_pos, pos);
    }
    cu_rows.push_back(static_cast<std::int32_t>(row_token.size()));
    max_rows = std::max(max_rows, plan.num_dense_rows());
    q_rows += chunk.len;
  }
  const HostPagedCache host_cache = RandomPagedCache(seq_lens, c.num_kv_heads, c.head_dim, c.block_size, rng);
  const std::int64_t row_elems = static_cast<std::int64_t>(c.num_heads) * c.head_dim;
  const std::vector<Bf16Bits> q = RandomBf16(q_rows * row_elems, 1.f, rng);
  const int num_rows = static_cast<int>(rows.size());
  DeviceBuffer<Bf16Bits> q_dev(q);
  DeviceBuffer<Bf16Bits> out_dev(num_rows * row_elems);
  DeviceBuffer<std::int32_t> cu_dev(cu_rows);
  DeviceBuffer<std::int32_t> token_dev(row_token);
  DeviceBuffer<std::int32_t> pos_dev(row_pos);
  const std::size_t workspace_bytes =
      c.split_keys ? GatheredAttentionWorkspaceBytes(num_rows, c.num_heads, c.head_dim, kMaxKeySplits) : 0;
  DeviceBuffer<unsigned char> workspace(workspace_bytes);
  DeviceCache cache(host_cache);

  GatheredAttentionArgs args;
  args.q = {q_dev.get(), row_elems, c.head_dim};
  args.out = {out_dev.get(), row_elems, c.head_dim};
  args.num_heads = c.num_heads;
  args.num_seqs = static_cast<int>(c.chunks.size());
  args.num_rows = num_rows;
  args.max_rows_per_seq = max_rows;
  args.max_position = max_pos;
  args.cu_rows = cu_dev.get();
  args.row_token = token_dev.get();
  args.row_pos = pos_dev.get();
  args.cache = cache.View();
  args.mask = c.mask;
  args.softmax_scale = 1.f / std::sqrt(static_cast<float>(c.head_dim));
  DS_ASSERT_CUDA(GatheredAttention(args, c.split_keys ? workspace.get() : nullptr, workspace_bytes, nullptr));
  DS_ASSERT_CUDA(cudaDeviceSynchronize());

  const std::vector<double> want = ReferenceRows(host_cache, FromBf16(q), c.num_heads, rows, c.mask, args.softmax_scale);
  EXPECT_LT(RelativeError(FromBf16(out_dev.Download()), want), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GatheredAttentionTest,
    ::testing::Values(
        GatheredCase{"anchors_d128_gqa4_split", 128, 8, 2, 16, 64, {{0, 1000, 1000}, {0, 700, 700}}, {}, true},
        GatheredCase{"anchors_d128_gqa4_whole", 128, 8, 2, 16, 64, {{0, 1000, 1000}, {0, 700, 700}}, {}, false},
        GatheredCase{"anchors_chunked_d64_mha_split", 64, 4, 4, 32, 32, {{256, 600, 900}, {0, 300, 1200}}, {}, true},
        GatheredCase{"anchor_sparse_rows_d128_gqa8", 128, 16, 2, 16, 64, {{0, 900, 900}}, AttentionMask{40, 100}, true},
        GatheredCase{"short_prompt_all_dense_d64_gqa2", 64, 4, 2, 16, 64, {{0, 150, 150}}, {}, true}),
    [](const ::testing::TestParamInfo<GatheredCase>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace deltaserve::kernels::testing
