#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <limits>
#include <vector>

#include "engine/sampling/sampler.h"
#include "tests/engine/sampling/sampling_test_util.h"

namespace deltaserve {
namespace {

using sampling_test::GreedyTokens;

// A plain-greedy step decides its tokens on the GPU (ModelRunner): the ids must be the
// host sampler's for the same bf16 rows, ties and NaN included.
TEST(GreedyTokensOnGpu, MatchTheHostForTheSameRows) {
  at::manual_seed(3);
  at::Tensor rows = at::randn({64, 128256}).mul_(4).to(at::kBFloat16);
  rows[5][7] = std::numeric_limits<float>::quiet_NaN();
  rows[9].fill_(1.0f);  // all tied: id 0
  rows[10][100] = 100.0f;  // tied maxima: the lower id
  rows[10][50] = 100.0f;
  const std::vector<int32_t> on_gpu = GreedyTokens(rows.to(at::kCUDA));
  EXPECT_EQ(on_gpu, GreedyTokens(rows));
  EXPECT_EQ(on_gpu[9], 0);
  EXPECT_EQ(on_gpu[10], 50);
}

}  // namespace
}  // namespace deltaserve
