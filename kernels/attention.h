// Paged flash attention for prefill (dense or sink + sliding window), anchor rows and decode.
//
// Every launch reads keys and values of one layer from a paged KV cache and writes bf16
// output rows [rows, num_heads, head_dim]. Tensors are bf16 (passed as void*), indices int32,
// strides in elements. Functions return cudaErrorInvalidValue for arguments they cannot
// serve (head_dim not 64/128, num_heads not a multiple of num_kv_heads, ...) and otherwise
// the launch error.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/row_tensor.h"

namespace deltaserve::kernels {

// One layer's cache: K and V each [num_blocks, block_size, num_kv_heads, head_dim]. Every
// slot of the blocks that hold a sequence's keys must hold finite values, the slots past
// its last key included: the Hopper kernel reads on past the last key to the end of its
// block (or of its 128-key tile) and masks those keys, and a masked key's weight 0 times a
// NaN value is still NaN.
struct PagedKvCache {
  const void* k = nullptr;
  const void* v = nullptr;
  int num_blocks = 0;  // blocks in the cache, the extent the Hopper kernel's TMA descriptors cover
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size = 0;
  std::int64_t block_stride = 0;  // between blocks; the same for k and v
  std::int64_t token_stride = 0;  // between slots of a block
  std::int64_t head_stride = 0;   // between KV heads of a slot
  const std::int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  int max_blocks_per_seq = 0;
};

// Which keys a query at position i sees: j <= i, and if window > 0 also j < sink or
// j > i - window (sparse). window <= 0 means dense causal.
struct AttentionMask {
  int sink = 0;
  int window = 0;
};

// Packed varlen prefill: sequence s owns q rows [cu_seqlens_q[s], cu_seqlens_q[s+1]) at
// absolute positions start_pos[s] + i; keys 0..start_pos[s]+len-1 must already be in the
// cache (chunked prefill: cached keys count). out has the same rows as q.
struct PrefillAttentionArgs {
  RowTensor q;
  RowTensor out;
  int num_heads = 0;
  int num_seqs = 0;
  int max_seqlen_q = 0;
  const std::int32_t* cu_seqlens_q = nullptr;  // device, [num_seqs + 1]
  const std::int32_t* start_pos = nullptr;     // device, [num_seqs]
  PagedKvCache cache;
  AttentionMask mask;
  float softmax_scale = 0.f;
};
cudaError_t PrefillAttention(const PrefillAttentionArgs& args, cudaStream_t stream);

// Attention for a gathered list of query rows (anchors and tail of Delta Attention).
// Sequence s owns output rows [cu_rows[s], cu_rows[s+1]); row r reads q row row_token[r]
// and attends as position row_pos[r]. The query heads of one KV group share a tile, and
// long key ranges are split across thread blocks and merged when the workspace allows it.
struct GatheredAttentionArgs {
  RowTensor q;
  RowTensor out;
  int num_heads = 0;
  int num_seqs = 0;
  int num_rows = 0;  // cu_rows[num_seqs]
  int max_rows_per_seq = 0;
  int max_position = 0;  // upper bound of row_pos, sizes the key split
  const std::int32_t* cu_rows = nullptr;    // device, [num_seqs + 1]
  const std::int32_t* row_token = nullptr;  // device, [rows]
  const std::int32_t* row_pos = nullptr;    // device, [rows]
  PagedKvCache cache;
  AttentionMask mask;
  float softmax_scale = 0.f;
};
cudaError_t GatheredAttention(const GatheredAttentionArgs& args, void* workspace,
                              std::size_t workspace_bytes, cudaStream_t stream);

// The most ways a split-KV launch (GatheredAttention, DecodeAttention) splits a key
// range. More is not faster where it binds: a lone 128K decode sequence (8 blocks before
// splitting) read its keys at 0.75x copy bandwidth with 64 splits and 0.51x with 128 on
// an H200, each block's prologue and partial write weighing more on half the keys.
constexpr int kMaxKeySplits = 64;

// Workspace that lets GatheredAttention split key ranges `splits` ways (floats for the
// partial outputs and log-sum-exps). Less workspace means fewer splits, never an error.
std::size_t GatheredAttentionWorkspaceBytes(int rows, int num_heads, int head_dim, int splits);

// Decode: sequence s has one query row s (q [num_seqs, H, d]) at position seq_lens[s] - 1
// over keys 0..seq_lens[s]-1; ragged lengths in one launch, keys split flash-decoding style.
struct DecodeAttentionArgs {
  RowTensor q;
  RowTensor out;
  int num_heads = 0;
  int num_seqs = 0;
  // Bounds every seq_lens[s] and only sizes the key split. A bound far above the real
  // lengths (a CUDA graph captured at max_model_len) keeps the split balanced: each
  // sequence spreads its own keys over the splits, and one too short to split is
  // attended unsplit.
  int max_seq_len = 0;
  const std::int32_t* seq_lens = nullptr;  // device, [num_seqs]
  PagedKvCache cache;
  float softmax_scale = 0.f;
};
cudaError_t DecodeAttention(const DecodeAttentionArgs& args, void* workspace,
                            std::size_t workspace_bytes, cudaStream_t stream);

// Key splits DecodeAttention launches with for these arguments and workspace_bytes of
// workspace on the current device, 0 for arguments it rejects. For benchmarks that report it.
int DecodeAttentionSplits(const DecodeAttentionArgs& args, std::size_t workspace_bytes);

}  // namespace deltaserve::kernels
