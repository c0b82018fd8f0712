#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "engine/runtime/sequence.h"

namespace deltaserve {

// Owns the KV-cache blocks: a free list, reference counts, and prefix caching by a
// hash chain over full blocks (a block's hash covers its tokens, every token before it
// and the prefill attention that computed them: a layer's K/V depend on the layers
// below, so blocks prefilled in delta mode are not dense blocks). A freed block keeps its contents and hash until it is handed out again, so a
// later prompt with the same prefix reuses it.
class BlockManager {
 public:
  BlockManager(int64_t num_blocks, int64_t block_size);

  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  int64_t num_free_blocks() const { return static_cast<int64_t>(free_list_.size()); }
  int64_t BlocksFor(int64_t num_tokens) const { return (num_tokens + block_size_ - 1) / block_size_; }

  // Admission: blocks for all of seq's tokens, reusing cached prefix blocks.
  bool CanAllocate(const Sequence& seq) const;
  // Fills seq.block_table and sets seq.num_computed_tokens to the cached prefix. The
  // block holding the last token is never taken from the cache: that token's logits
  // must be computed. The cached prefix is a multiple of `prefix_alignment` tokens
  // (delta attention resumes a prompt only on its anchor grid).
  void Allocate(Sequence& seq, int64_t prefix_alignment = 1);
  void Free(Sequence& seq);

  // Room for num_new_tokens more tokens of K/V beyond seq.num_computed_tokens.
  bool CanAppend(const Sequence& seq, int64_t num_new_tokens) const;
  // The free blocks Append(seq, num_new_tokens) takes.
  int64_t BlocksToAppend(const Sequence& seq, int64_t num_new_tokens) const;
  void Append(Sequence& seq, int64_t num_new_tokens);

  // Publishes seq's blocks that are full and computed to the prefix cache.
  void CacheComputedBlocks(const Sequence& seq);

  // Prompt tokens looked up in / found in the prefix cache since start.
  int64_t prefix_cache_queries() const { return prefix_cache_queries_; }
  int64_t prefix_cache_hits() const { return prefix_cache_hits_; }

 private:
  static constexpr uint64_t kNoHash = 0;

  struct Block {
    int32_t ref_count = 0;
    uint64_t hash = kNoHash;
    std::vector<int32_t> token_ids;  // the tokens whose K/V it holds, once hashed
    bool free = true;
    std::list<int32_t>::iterator free_position;
  };

  uint64_t ChainHash(uint64_t previous, const int32_t* tokens) const;
  // Where a sequence's chain starts: its prefill attention settings.
  uint64_t ChainStart(const Sequence& seq) const;
  int32_t TakeFreeBlock();
  void Reuse(int32_t block_id);

  int64_t block_size_;
  std::vector<Block> blocks_;
  std::list<int32_t> free_list_;  // least recently freed first
  std::unordered_map<uint64_t, int32_t> cached_blocks_;
  int64_t prefix_cache_queries_ = 0;
  int64_t prefix_cache_hits_ = 0;
};

}  // namespace deltaserve
