// Rotary position embedding fused with the KV-cache write of one layer's new tokens:
// q is rotated in place, k is rotated and v copied into the paged cache at slot_mapping.
// Rotation is the half-split (rotate_half) form with angle position * inv_freq[i] in fp32;
// default, linear and llama3 scaling differ only in the inv_freq the caller passes.
// Moves 16-byte vectors when head_dim / 2 is a multiple of 8 and every pointer and stride
// keeps rows, heads and cache slots 16-byte aligned; otherwise one element at a time.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/row_tensor.h"

namespace deltaserve::kernels {

struct RopeKvWriteArgs {
  RowTensor q;  // [tokens, num_heads, head_dim], rotated in place
  RowTensor k;  // [tokens, num_kv_heads, head_dim], read only
  RowTensor v;  // [tokens, num_kv_heads, head_dim], read only
  int num_tokens = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;  // even
  const std::int32_t* positions = nullptr;     // device, [tokens]
  const float* inv_freq = nullptr;             // device, [head_dim / 2]
  const std::int32_t* slot_mapping = nullptr;  // device, [tokens]: block * block_size + offset; < 0 skips
  void* k_cache = nullptr;  // [num_blocks, block_size, num_kv_heads, head_dim]
  void* v_cache = nullptr;
  int block_size = 0;
  std::int64_t block_stride = 0;
  std::int64_t token_stride = 0;
  std::int64_t head_stride = 0;
};

cudaError_t RopeKvWrite(const RopeKvWriteArgs& args, cudaStream_t stream);

}  // namespace deltaserve::kernels
