// Float64 CPU reference of paged attention and the random paged caches the attention
// tests run on (block tables in shuffled order, spare blocks, table entries past a
// sequence's blocks naming one of NaNs).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "tests/kernels/kernel_test_support.h"

namespace deltaserve::kernels::testing {

struct HostPagedCache {
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size = 0;
  int num_blocks = 0;
  int max_blocks_per_seq = 0;
  std::vector<Bf16Bits> k;  // [num_blocks, block_size, num_kv_heads, head_dim]
  std::vector<Bf16Bits> v;
  std::vector<std::int32_t> block_tables;  // [num_seqs, max_blocks_per_seq]

  std::int64_t Offset(int seq, int pos, int kv_head) const;
};

HostPagedCache RandomPagedCache(const std::vector<int>& seq_lens, int num_kv_heads, int head_dim,
                                int block_size, std::mt19937& rng);

// Output of one query (head_dim floats) at position pos of sequence seq against kv_head.
std::vector<double> ReferenceAttention(const HostPagedCache& cache, int seq, const float* q,
                                       int kv_head, int pos, AttentionMask mask, double scale);

// One query row of a launch: q row q_row of sequence seq, attending as position pos.
struct QueryRow {
  int seq;
  int q_row;
  int pos;
};

// Expected outputs [rows.size(), num_heads, head_dim] for q [*, num_heads, head_dim].
std::vector<double> ReferenceRows(const HostPagedCache& cache, const std::vector<float>& q,
                                  int num_heads, const std::vector<QueryRow>& rows,
                                  AttentionMask mask, double scale);

class DeviceCache {
 public:
  explicit DeviceCache(const HostPagedCache& host);
  PagedKvCache View() const;

 private:
  const HostPagedCache& host_;
  DeviceBuffer<Bf16Bits> k_;
  DeviceBuffer<Bf16Bits> v_;
  DeviceBuffer<std::int32_t> tables_;
};

}  // namespace deltaserve::kernels::testing
