#include "engine/runtime/block_manager.h"

#include <algorithm>
#include <numeric>

namespace deltaserve {

BlockManager::BlockManager(int64_t num_blocks, int64_t block_size)
    : block_size_(block_size), blocks_(num_blocks) {
  for (int32_t id = 0; id < num_blocks; ++id) {
    blocks_[id].free_position = free_list_.insert(free_list_.end(), id);
  }
}

namespace {

// FNV-1a over 64-bit words.
uint64_t Fnv1a(std::initializer_list<uint64_t> words, const int32_t* tokens, int64_t num_tokens) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](uint64_t word) {
    for (int byte = 0; byte < 8; ++byte) {
      hash ^= (word >> (8 * byte)) & 0xff;
      hash *= 1099511628211ull;
    }
  };
  for (uint64_t word : words) mix(word);
  for (int64_t i = 0; i < num_tokens; ++i) mix(static_cast<uint32_t>(tokens[i]));
  return hash;
}

}  // namespace

uint64_t BlockManager::ChainHash(uint64_t previous, const int32_t* tokens) const {
  // Collisions are harmless: a hit is confirmed by comparing the tokens themselves, and
  // a chain's start (ChainStart) is part of every later hash.
  const uint64_t hash = Fnv1a({previous}, tokens, block_size_);
  return hash == kNoHash ? 1 : hash;
}

uint64_t BlockManager::ChainStart(const Sequence& seq) const {
  const AttentionConfig& a = seq.attention;
  // Dense prefill ignores the sparse geometry; probes never change the output.
  if (a.mode == AttentionMode::kDense) return Fnv1a({0}, nullptr, 0);
  return Fnv1a({static_cast<uint64_t>(a.mode) + 1, static_cast<uint64_t>(a.window), static_cast<uint64_t>(a.sink),
                static_cast<uint64_t>(a.lambda)},
               nullptr, 0);
}

bool BlockManager::CanAllocate(const Sequence& seq) const {
  return BlocksFor(seq.num_tokens()) <= num_free_blocks();
}

int32_t BlockManager::TakeFreeBlock() {
  const int32_t id = free_list_.front();
  Block& block = blocks_[id];
  if (block.hash != kNoHash) {
    auto it = cached_blocks_.find(block.hash);
    if (it != cached_blocks_.end() && it->second == id) cached_blocks_.erase(it);
    block.hash = kNoHash;
    block.token_ids.clear();
  }
  Reuse(id);
  return id;
}

void BlockManager::Reuse(int32_t block_id) {
  Block& block = blocks_[block_id];
  if (block.free) {
    free_list_.erase(block.free_position);
    block.free = false;
  }
  ++block.ref_count;
}

void BlockManager::Allocate(Sequence& seq, int64_t prefix_alignment) {
  const int64_t needed = BlocksFor(seq.num_tokens());
  // Only blocks that end before the last token, and on a multiple of both the block size
  // and the alignment, may come from the cache.
  const int64_t step = std::lcm(block_size_, prefix_alignment) / block_size_;
  const int64_t cacheable = (seq.num_tokens() - 1) / block_size_ / step * step;
  uint64_t hash = ChainStart(seq);
  bool hitting = true;
  int64_t cached_tokens = 0;
  seq.block_table.clear();
  for (int64_t i = 0; i < needed; ++i) {
    const int32_t* tokens = seq.token_ids.data() + i * block_size_;
    if (hitting && i < cacheable) {
      hash = ChainHash(hash, tokens);
      auto it = cached_blocks_.find(hash);
      if (it != cached_blocks_.end() &&
          std::equal(tokens, tokens + block_size_, blocks_[it->second].token_ids.begin())) {
        Reuse(it->second);
        seq.block_table.push_back(it->second);
        cached_tokens += block_size_;
        continue;
      }
    }
    hitting = false;
    seq.block_table.push_back(TakeFreeBlock());
  }
  prefix_cache_queries_ += seq.num_tokens();
  prefix_cache_hits_ += cached_tokens;
  seq.num_computed_tokens = cached_tokens;
  seq.num_cached_prompt_tokens = std::min(cached_tokens, seq.num_prompt_tokens);
}

void BlockManager::Free(Sequence& seq) {
  for (auto it = seq.block_table.rbegin(); it != seq.block_table.rend(); ++it) {
    Block& block = blocks_[*it];
    if (--block.ref_count == 0) {
      block.free = true;
      block.free_position = free_list_.insert(free_list_.end(), *it);
    }
  }
  seq.block_table.clear();
  seq.num_computed_tokens = 0;
}

int64_t BlockManager::BlocksToAppend(const Sequence& seq, int64_t num_new_tokens) const {
  const int64_t needed = BlocksFor(seq.num_computed_tokens + num_new_tokens);
  return std::max<int64_t>(needed - static_cast<int64_t>(seq.block_table.size()), 0);
}

bool BlockManager::CanAppend(const Sequence& seq, int64_t num_new_tokens) const {
  return BlocksToAppend(seq, num_new_tokens) <= num_free_blocks();
}

void BlockManager::Append(Sequence& seq, int64_t num_new_tokens) {
  const int64_t needed = BlocksFor(seq.num_computed_tokens + num_new_tokens);
  while (static_cast<int64_t>(seq.block_table.size()) < needed) {
    seq.block_table.push_back(TakeFreeBlock());
  }
}

void BlockManager::CacheComputedBlocks(const Sequence& seq) {
  const int64_t full = seq.num_computed_tokens / block_size_;
  uint64_t hash = ChainStart(seq);
  for (int64_t i = 0; i < full; ++i) {
    Block& block = blocks_[seq.block_table[i]];
    if (block.hash != kNoHash) {
      hash = block.hash;
      continue;
    }
    const int32_t* tokens = seq.token_ids.data() + i * block_size_;
    hash = ChainHash(hash, tokens);
    block.hash = hash;
    block.token_ids.assign(tokens, tokens + block_size_);
    cached_blocks_.emplace(hash, seq.block_table[i]);
  }
}

}  // namespace deltaserve
