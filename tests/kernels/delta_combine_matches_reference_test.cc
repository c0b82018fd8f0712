// The delta and recompute combines write every row of a chunk exactly as DESIGN.md's
// formulas say, on and off the lambda grid, and refuse a delta chunk whose rows need an
// anchor before it when that anchor's correction is not carried in.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/delta_combine.h"
#include "tests/kernels/kernel_test_support.h"

namespace deltaserve::kernels::testing {
namespace {

struct CombineCase {
  std::string name;
  int start;
  int len;
  int prompt_len;
  int lambda;
  CorrectionMode mode;
  bool carry = false;  // hand in the correction of the anchor before the chunk
};

// `carried`: dense[a] - sparse[a] of the anchor a before the chunk, exact (empty if none).
std::vector<double> ExpectedCombine(const DeltaChunkPlan& plan, CorrectionMode mode,
                                    const std::vector<float>& sparse, const std::vector<float>& dense,
                                    const std::vector<double>& carried, int row_elems) {
  std::vector<double> out(static_cast<std::size_t>(plan.len) * row_elems);
  for (int t = 0; t < plan.len; ++t) {
    const int pos = plan.start + t;
    for (int e = 0; e < row_elems; ++e) {
      auto sparse_at = [&](int p) { return static_cast<double>(sparse[static_cast<std::size_t>(p - plan.start) * row_elems + e]); };
      auto dense_at = [&](int p) { return static_cast<double>(dense[static_cast<std::size_t>(plan.dense_row_of(p)) * row_elems + e]); };
      double value = 0.0;
      if (pos >= plan.prefix_end) {
        value = dense_at(pos);
      } else if (mode == CorrectionMode::kRecompute) {
        value = pos % plan.lambda == 0 ? dense_at(pos) : sparse_at(pos);
      } else {
        const int anchor = pos / plan.lambda * plan.lambda;
        const double correction = anchor < plan.start ? carried[e] : dense_at(anchor) - sparse_at(anchor);
        value = sparse_at(pos) + correction;
      }
      out[static_cast<std::size_t>(t) * row_elems + e] = value;
    }
  }
  return out;
}

class DeltaCombineTest : public ::testing::TestWithParam<CombineCase> {};

TEST_P(DeltaCombineTest, MatchesFormula) {
  const CombineCase& c = GetParam();
  constexpr int kRowElems = 4 * 64;
  std::mt19937 rng(std::hash<std::string>{}(c.name));
  const DeltaChunkPlan plan = MakeDeltaChunkPlan(c.start, c.len, c.prompt_len, c.lambda);
  const std::vector<Bf16Bits> sparse = RandomBf16(static_cast<std::size_t>(c.len) * kRowElems, 1.f, rng);
  const std::vector<Bf16Bits> dense = RandomBf16(static_cast<std::size_t>(plan.num_dense_rows()) * kRowElems, 1.f, rng);
  DeviceBuffer<Bf16Bits> sparse_dev(sparse);
  DeviceBuffer<Bf16Bits> dense_dev(dense);
  DeviceBuffer<Bf16Bits> out_dev(sparse.size());
  // The anchor before the chunk as the chunk that computed it saw it; its correction comes
  // in rounded to bf16, as the engine carries it.
  std::vector<double> carried;
  std::vector<Bf16Bits> carry;
  if (c.carry) {
    const std::vector<float> anchor_dense = FromBf16(RandomBf16(kRowElems, 1.f, rng));
    const std::vector<float> anchor_sparse = FromBf16(RandomBf16(kRowElems, 1.f, rng));
    for (int e = 0; e < kRowElems; ++e) {
      carried.push_back(static_cast<double>(anchor_dense[e]) - anchor_sparse[e]);
      carry.push_back(ToBf16(anchor_dense[e] - anchor_sparse[e]));
    }
  }
  DeviceBuffer<Bf16Bits> carry_dev(carry);

  DeltaCombineArgs args;
  args.sparse = sparse_dev.get();
  args.sparse_row_stride = kRowElems;
  args.dense = dense_dev.get();
  args.dense_row_stride = kRowElems;
  args.out = out_dev.get();
  args.out_row_stride = kRowElems;
  args.row_elems = kRowElems;
  args.plan = plan;
  args.mode = c.mode;
  args.carry = c.carry ? carry_dev.get() : nullptr;
  DS_ASSERT_CUDA(DeltaCombine(args, nullptr));
  DS_ASSERT_CUDA(cudaDeviceSynchronize());

  const std::vector<double> want =
      ExpectedCombine(plan, c.mode, FromBf16(sparse), FromBf16(dense), carried, kRowElems);
  // Rounding the output to bf16 costs ~2e-3; the carried rows' second rounding (the carry's
  // own, half a bf16 ulp of the correction) adds less than that.
  EXPECT_LT(RelativeError(FromBf16(out_dev.Download()), want), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(
    Chunks, DeltaCombineTest,
    ::testing::Values(CombineCase{"whole_prompt_delta", 0, 1000, 1000, 64, CorrectionMode::kDelta},
                      CombineCase{"whole_prompt_recompute", 0, 1000, 1000, 64, CorrectionMode::kRecompute},
                      CombineCase{"middle_chunk_delta", 256, 512, 2000, 32, CorrectionMode::kDelta},
                      CombineCase{"last_chunk_delta", 512, 488, 1000, 64, CorrectionMode::kDelta},
                      CombineCase{"tail_only_chunk", 900, 100, 1000, 64, CorrectionMode::kDelta},
                      CombineCase{"short_prompt_all_dense", 0, 150, 150, 64, CorrectionMode::kDelta},
                      CombineCase{"off_grid_chunk_delta_with_carry", 300, 500, 2000, 32, CorrectionMode::kDelta, true},
                      CombineCase{"off_grid_chunk_recompute", 300, 500, 2000, 32, CorrectionMode::kRecompute},
                      CombineCase{"off_grid_last_chunk_delta_with_carry", 700, 300, 1000, 64, CorrectionMode::kDelta,
                                  true},
                      CombineCase{"off_grid_last_chunk_recompute", 700, 300, 1000, 64, CorrectionMode::kRecompute}),
    [](const ::testing::TestParamInfo<CombineCase>& param_info) { return param_info.param.name; });

TEST(DeltaCombineArgsTest, RejectsOffGridDeltaChunkWithoutCarry) {
  DeviceBuffer<Bf16Bits> rows(64 * 64);
  DeviceBuffer<Bf16Bits> out(64 * 64);
  DeltaCombineArgs args;
  args.sparse = rows.get();
  args.dense = rows.get();
  args.out = out.get();
  args.row_elems = 64;
  args.sparse_row_stride = args.dense_row_stride = args.out_row_stride = 64;
  args.plan = MakeDeltaChunkPlan(10, 20, 1000, 64);
  EXPECT_EQ(DeltaCombine(args, nullptr), cudaErrorInvalidValue);
  args.carry = rows.get();
  EXPECT_EQ(DeltaCombine(args, nullptr), cudaSuccess);
  args.carry = nullptr;
  args.mode = CorrectionMode::kRecompute;  // rows before the first anchor stay sparse
  EXPECT_EQ(DeltaCombine(args, nullptr), cudaSuccess);
  args.mode = CorrectionMode::kDelta;
  args.plan = MakeDeltaChunkPlan(64, 20, 1000, 64);
  EXPECT_EQ(DeltaCombine(args, nullptr), cudaSuccess);
}

}  // namespace
}  // namespace deltaserve::kernels::testing
