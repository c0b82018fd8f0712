#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include "absl/types/span.h"

namespace deltaserve {

struct KvCacheShape {
  int64_t num_layers = 0;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
};

// The paged KV cache: per layer one K and one V tensor of
// [num_blocks, block_size, Hkv, d], the layout the CUDA kernels read. Token t of a
// sequence lives in block block_table[t / block_size], row t % block_size.
class KvCache {
 public:
  // options: the dtype and device of the blocks.
  KvCache(const KvCacheShape& shape, at::TensorOptions options);

  // Bytes one block takes over all layers, K and V.
  static int64_t BytesPerBlock(const KvCacheShape& shape, at::ScalarType dtype);

  const KvCacheShape& shape() const { return shape_; }
  // One layer's blocks, [num_blocks, block_size, Hkv, d], for kernels that read the cache in place.
  const at::Tensor& keys(int64_t layer) const { return keys_[layer]; }
  const at::Tensor& values(int64_t layer) const { return values_[layer]; }

  // Stores k, v [T, Hkv, d] of one layer at the flat slots (block * block_size + row).
  void Write(int64_t layer, const at::Tensor& k, const at::Tensor& v, const at::Tensor& slots);

  // The first num_tokens keys and values of a sequence, [num_tokens, Hkv, d] each.
  std::pair<at::Tensor, at::Tensor> Gather(int64_t layer, absl::Span<const int32_t> block_table,
                                           int64_t num_tokens) const;

 private:
  KvCacheShape shape_;
  std::vector<at::Tensor> keys_;
  std::vector<at::Tensor> values_;
};

}  // namespace deltaserve
