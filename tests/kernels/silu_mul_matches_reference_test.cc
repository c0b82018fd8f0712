// SiLU(gate) * up over concatenated gate/up rows equals a float64 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/silu_mul.h"
#include "tests/kernels/kernel_test_support.h"

namespace deltaserve::kernels::testing {
namespace {

TEST(SiluMulTest, MatchesFloat64Reference) {
  for (const int intermediate : {1376, 8}) {
    constexpr int kRows = 5;
    std::mt19937 rng(intermediate);
    const std::vector<Bf16Bits> gate_up = RandomBf16(kRows * 2 * intermediate, 2.f, rng);
    DeviceBuffer<Bf16Bits> gate_up_dev(gate_up);
    DeviceBuffer<Bf16Bits> out_dev(kRows * intermediate);
    SiluMulArgs args;
    args.gate_up = gate_up_dev.get();
    args.gate_up_row_stride = 2 * intermediate;
    args.out = out_dev.get();
    args.out_row_stride = intermediate;
    args.rows = kRows;
    args.intermediate = intermediate;
    DS_ASSERT_CUDA(SiluMul(args, nullptr));
    DS_ASSERT_CUDA(cudaDeviceSynchronize());

    std::vector<double> want(static_cast<std::size_t>(kRows) * intermediate);
    for (int r = 0; r < kRows; ++r) {
      for (int i = 0; i < intermediate; ++i) {
        const double g = FromBf16(gate_up[static_cast<std::size_t>(r) * 2 * intermediate + i]);
        const double u = FromBf16(gate_up[static_cast<std::size_t>(r) * 2 * intermediate + intermediate + i]);
        want[static_cast<std::size_t>(r) * intermediate + i] = g / (1.0 + std::exp(-g)) * u;
      }
    }
    EXPECT_LT(RelativeError(FromBf16(out_dev.Download()), want), 1e-2) << "intermediate " << intermediate;
  }
}

}  // namespace
}  // namespace deltaserve::kernels::testing
