#include "engine/cache/kv_cache.h"

#include <ATen/ATen.h>

namespace deltaserve {

KvCache::KvCache(const KvCacheShape& shape, at::TensorOptions options) : shape_(shape) {
  for (int64_t layer = 0; layer < shape.num_layers; ++layer) {
    keys_.push_back(at::zeros({shape.num_blocks, shape.block_size, shape.kv_heads, shape.head_dim}, options));
    values_.push_back(at::zeros({shape.num_blocks, shape.block_size, shape.kv_heads, shape.head_dim}, options));
  }
}

int64_t KvCache::BytesPerBlock(const KvCacheShape& shape, at::ScalarType dtype) {
  return 2 * shape.num_layers * shape.block_size * shape.kv_heads * shape.head_dim *
         static_cast<int64_t>(c10::elementSize(dtype));
}

void KvCache::Write(int64_t layer, const at::Tensor& k, const at::Tensor& v, const at::Tensor& slots) {
  keys_[layer].view({-1, shape_.kv_heads, shape_.head_dim}).index_copy_(0, slots, k);
  values_[layer].view({-1, shape_.kv_heads, shape_.head_dim}).index_copy_(0, slots, v);
}

std::pair<at::Tensor, at::Tensor> KvCache::Gather(int64_t layer, absl::Span<const int32_t> block_table,
                                                  int64_t num_tokens) const {
  const int64_t blocks_needed = (num_tokens + shape_.block_size - 1) / shape_.block_size;
  at::Tensor blocks = at::from_blob(const_cast<int32_t*>(block_table.data()), {blocks_needed}, at::kInt).to(at::kLong);
  auto gather = [&](const at::Tensor& cache) {
    return cache.index_select(0, blocks).view({-1, shape_.kv_heads, shape_.head_dim}).slice(0, 0, num_tokens);
  };
  return {gather(keys_[layer]), gather(values_[layer])};
}

}  // namespace deltaserve
