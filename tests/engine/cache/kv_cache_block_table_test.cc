// K/V written at flat slots come back in sequence order through any block table.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "engine/cache/kv_cache.h"

namespace deltaserve {
namespace {

TEST(KvCacheBlockTable, GatherFollowsShuffledBlockTable) {
  const KvCacheShape shape{2, 8, 4, 2, 3};
  KvCache cache(shape, at::kFloat);
  std::vector<int32_t> table(8);
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), std::mt19937(7));
  table.resize(3);
  const int64_t tokens = 10;
  std::vector<int64_t> slots;
  for (int64_t t = 0; t < tokens; ++t) slots.push_back(table[t / 4] * 4 + t % 4);
  at::Tensor k = at::randn({tokens, 2, 3});
  at::Tensor v = at::randn({tokens, 2, 3});
  cache.Write(1, k, v, at::tensor(slots, at::kLong));
  auto [keys, values] = cache.Gather(1, table, tokens);
  EXPECT_TRUE(at::equal(keys, k));
  EXPECT_TRUE(at::equal(values, v));
  // Layer 0 was not touched.
  auto [keys0, values0] = cache.Gather(0, table, tokens);
  EXPECT_TRUE(at::equal(keys0, at::zeros_like(k)));
}

TEST(KvCacheBlockTable, BytesPerBlockCountsKAndVOfEveryLayer) {
  EXPECT_EQ(KvCache::BytesPerBlock({5, 0, 16, 4, 8}, at::kFloat), 2 * 5 * 16 * 4 * 8 * 4);
}

}  // namespace
}  // namespace deltaserve
