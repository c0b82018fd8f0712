// RMSNorm with and without the fused residual add equals a float64 reference, and the
// residual is updated to the bf16 sum the norm was taken of.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/rms_norm.h"
#include "tests/kernels/kernel_test_support.h"

namespace deltaserve::kernels::testing {
namespace {

class RmsNormTest : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(RmsNormTest, MatchesFloat64Reference) {
  const auto [hidden, with_residual] = GetParam();
  constexpr int kRows = 7;
  constexpr float kEps = 1e-5f;
  std::mt19937 rng(hidden * 2 + with_residual);
  const std::vector<Bf16Bits> input = RandomBf16(kRows * hidden, 1.f, rng);
  const std::vector<Bf16Bits> residual = RandomBf16(kRows * hidden, 1.f, rng);
  const std::vector<Bf16Bits> weight = RandomBf16(hidden, 1.f, rng);
  DeviceBuffer<Bf16Bits> input_dev(input);
  DeviceBuffer<Bf16Bits> residual_dev(residual);
  DeviceBuffer<Bf16Bits> weight_dev(weight);
  DeviceBuffer<Bf16Bits> out_dev(input.size());

  RmsNormArgs args;
  args.input = input_dev.get();
  args.input_row_stride = hidden;
  args.residual = with_residual ? residual_dev.get() : nullptr;
  args.residual_row_stride = hidden;
  args.weight = weight_dev.get();
  args.out = out_dev.get();
  args.out_row_stride = hidden;
  args.rows = kRows;
  args.hidden = hidden;
  args.eps = kEps;
  DS_ASSERT_CUDA(RmsNorm(args, nullptr));
  DS_ASSERT_CUDA(cudaDeviceSynchronize());

  std::vector<double> want(input.size());
  std::vector<double> want_residual(input.size());
  for (int r = 0; r < kRows; ++r) {
    double sum_sq = 0.0;
    for (int i = 0; i < hidden; ++i) {
      const std::size_t at = static_cast<std::size_t>(r) * hidden + i;
      const float x = with_residual ? FromBf16(ToBf16(FromBf16(input[at]) + FromBf16(residual[at])))
                                    : FromBf16(input[at]);
      want_residual[at] = x;
      sum_sq += static_cast<double>(x) * x;
    }
    const double inv_rms = 1.0 / std::sqrt(sum_sq / hidden + kEps);
    for (int i = 0; i < hidden; ++i) {
      const std::size_t at = static_cast<std::size_t>(r) * hidden + i;
      want[at] = want_residual[at] * inv_rms * FromBf16(weight[i]);
    }
  }
  EXPECT_LT(RelativeError(FromBf16(out_dev.Download()), want), 1e-2);
  if (with_residual) {
    EXPECT_LT(RelativeError(FromBf16(residual_dev.Download()), want_residual), 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, RmsNormTest,
                         ::testing::Combine(::testing::Values(264, 4096), ::testing::Bool()));

}  // namespace
}  // namespace deltaserve::kernels::testing
