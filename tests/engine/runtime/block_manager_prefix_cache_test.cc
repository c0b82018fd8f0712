// The block manager hands out and takes back blocks by reference count, and reuses
// only full blocks whose K/V were computed, matched by the whole prefix before them.

#include <gtest/gtest.h>

#include "engine/runtime/block_manager.h"

namespace deltaserve {
namespace {

Sequence MakeSequence(std::vector<int32_t> tokens, uint64_t arrival = 0) {
  return Sequence("s" + std::to_string(arrival), std::move(tokens), SamplingParams{}, AttentionConfig{}, 0, 0,
                  arrival);
}

std::vector<int32_t> Iota(int32_t n, int32_t from = 0) {
  std::vector<int32_t> v(n);
  for (int32_t i = 0; i < n; ++i) v[i] = from + i;
  return v;
}

void Compute(BlockManager& manager, Sequence& seq) {
  seq.num_computed_tokens = seq.num_tokens();
  manager.CacheComputedBlocks(seq);
}

TEST(BlockManagerPrefixCache, AllocateAndFreeReturnEveryBlock) {
  BlockManager manager(10, 4);
  Sequence seq = MakeSequence(Iota(10));
  ASSERT_TRUE(manager.CanAllocate(seq));
  manager.Allocate(seq);
  EXPECT_EQ(seq.block_table.size(), 3u);
  EXPECT_EQ(manager.num_free_blocks(), 7);
  manager.Free(seq);
  EXPECT_EQ(manager.num_free_blocks(), 10);
  EXPECT_TRUE(seq.block_table.empty());
}

TEST(BlockManagerPrefixCache, SecondSequenceSharesComputedPrefixBlocks) {
  BlockManager manager(10, 4);
  Sequence first = MakeSequence(Iota(10), 0);
  manager.Allocate(first);
  Compute(manager, first);
  Sequence second = MakeSequence(Iota(10), 1);
  manager.Allocate(second);
  // Blocks 0 and 1 are shared; the block with the last token is always fresh.
  EXPECT_EQ(second.num_computed_tokens, 8);
  EXPECT_EQ(second.block_table[0], first.block_table[0]);
  EXPECT_EQ(second.block_table[1], first.block_table[1]);
  EXPECT_NE(second.block_table[2], first.block_table[2]);
  EXPECT_EQ(manager.num_free_blocks(), 6);
  manager.Free(first);
  EXPECT_EQ(manager.num_free_blocks(), 7);  // shared blocks still held by `second`
  manager.Free(second);
  EXPECT_EQ(manager.num_free_blocks(), 10);
  EXPECT_EQ(manager.prefix_cache_hits(), 8);
  EXPECT_EQ(manager.prefix_cache_queries(), 20);
}

TEST(BlockManagerPrefixCache, UncomputedBlocksAreNotShared) {
  BlockManager manager(10, 4);
  Sequence first = MakeSequence(Iota(10), 0);
  manager.Allocate(first);  // allocated but its K/V never computed
  Sequence second = MakeSequence(Iota(10), 1);
  manager.Allocate(second);
  EXPECT_EQ(second.num_computed_tokens, 0);
}

TEST(BlockManagerPrefixCache, BlocksPrefilledInAnotherAttentionModeAreNotShared) {
  BlockManager manager(10, 4);
  Sequence dense = MakeSequence(Iota(10), 0);
  manager.Allocate(dense);
  Compute(manager, dense);
  Sequence delta("s1", Iota(10), SamplingParams{}, AttentionConfig{AttentionMode::kDelta, 4, 1, 2, 0.0}, 0, 0, 1);
  manager.Allocate(delta);
  EXPECT_EQ(delta.num_computed_tokens, 0);
  Compute(manager, delta);
  Sequence same_delta("s2", Iota(10), SamplingParams{}, delta.attention, 0, 0, 2);
  manager.Allocate(same_delta, /*prefix_alignment=*/2);
  EXPECT_EQ(same_delta.num_computed_tokens, 8);
  Sequence dense_again = MakeSequence(Iota(10), 3);
  manager.Allocate(dense_again);
  EXPECT_EQ(dense_again.num_computed_tokens, 8);
  EXPECT_EQ(dense_again.block_table[0], dense.block_table[0]);
}

TEST(BlockManagerPrefixCache, DifferentEarlierTokensMeanNoHit) {
  BlockManager manager(10, 4);
  Sequence first = MakeSequence(Iota(12), 0);
  manager.Allocate(first);
  Compute(manager, first);
  std::vector<int32_t> other = Iota(12);
  other[0] = 99;  // block 1 holds the same tokens, but its prefix differs
  Sequence second = MakeSequence(other, 1);
  manager.Allocate(second);
  EXPECT_EQ(second.num_computed_tokens, 0);
}

TEST(BlockManagerPrefixCache, FreedBlocksStayCachedUntilReused) {
  BlockManager manager(3, 4);
  Sequence first = MakeSequence(Iota(9), 0);
  manager.Allocate(first);
  Compute(manager, first);
  manager.Free(first);
  Sequence again = MakeSequence(Iota(9), 1);
  manager.Allocate(again);
  EXPECT_EQ(again.num_computed_tokens, 8);
  manager.Free(again);
  // A different sequence takes every block: the old contents are evicted.
  Sequence other = MakeSequence(Iota(12, 50), 2);
  manager.Allocate(other);
  manager.Free(other);
  Sequence late = MakeSequence(Iota(9), 3);
  manager.Allocate(late);
  EXPECT_EQ(late.num_computed_tokens, 0);
}

TEST(BlockManagerPrefixCache, AlignedHitsRoundDownToTheAlignment) {
  BlockManager manager(20, 4);
  Sequence first = MakeSequence(Iota(30), 0);
  manager.Allocate(first);
  Compute(manager, first);
  Sequence second = MakeSequence(Iota(30), 1);
  manager.Allocate(second, /*prefix_alignment=*/6);
  // Seven full blocks (28 tokens) precede the last token; multiples of lcm(4, 6) = 12.
  EXPECT_EQ(second.num_computed_tokens, 24);
  EXPECT_EQ(second.block_table[5], first.block_table[5]);
  EXPECT_NE(second.block_table[6], first.block_table[6]);
}

TEST(BlockManagerPrefixCache, AppendGrowsTheTableOnlyAtBlockBoundaries) {
  BlockManager manager(4, 4);
  Sequence seq = MakeSequence(Iota(4));
  manager.Allocate(seq);
  seq.num_computed_tokens = 4;
  EXPECT_TRUE(manager.CanAppend(seq, 1));
  manager.Append(seq, 1);
  EXPECT_EQ(seq.block_table.size(), 2u);
  seq.num_computed_tokens = 5;
  manager.Append(seq, 3);
  EXPECT_EQ(seq.block_table.size(), 2u);
  EXPECT_FALSE(manager.CanAppend(seq, 12));
}

}  // namespace
}  // namespace deltaserve
