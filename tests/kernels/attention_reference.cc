#include "tests/kernels/attention_reference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace deltaserve::kernels::testing {

std::int64_t HostPagedCache::Offset(int seq, int pos, int kv_head) const {
  const int block = block_tables[static_cast<std::size_t>(seq) * max_blocks_per_seq + pos / block_size];
  return ((static_cast<std::int64_t>(block) * block_size + pos % block_size) * num_kv_heads + kv_head) *
         head_dim;
}

HostPagedCache RandomPagedCache(const std::vector<int>& seq_lens, int num_kv_heads, int head_dim,
                                int block_size, std::mt19937& rng) {
  HostPagedCache cache;
  cache.num_kv_heads = num_kv_heads;
  cache.head_dim = head_dim;
  cache.block_size = block_size;
  int used_blocks = 0;
  for (int len : seq_lens) {
    const int blocks = (len + block_size - 1) / block_size;
    cache.max_blocks_per_seq = std::max(cache.max_blocks_per_seq, blocks);
    used_blocks += blocks;
  }
  cache.max_blocks_per_seq += 1;  // a table wider than any sequence needs
  cache.num_blocks = used_blocks + 3;
  std::vector<std::int32_t> order(cache.num_blocks);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  cache.block_tables.assign(seq_lens.size() * cache.max_blocks_per_seq, -1);
  int next = 0;
  for (std::size_t s = 0; s < seq_lens.size(); ++s) {
    const int blocks = (seq_lens[s] + block_size - 1) / block_size;
    for (int b = 0; b < blocks; ++b) cache.block_tables[s * cache.max_blocks_per_seq + b] = order[next++];
  }
  const std::size_t elems = static_cast<std::size_t>(cache.num_blocks) * block_size * num_kv_heads * head_dim;
  cache.k = RandomBf16(elems, 1.f, rng);
  cache.v = RandomBf16(elems, 1.f, rng);
  // Entries past a sequence's blocks name a spare block of NaNs (the engine's tables hold
  // stale blocks there): a kernel that loads keys past a sequence's last block shows it.
  const std::int32_t nan_block = order[next];
  const std::size_t block_elems = static_cast<std::size_t>(block_size) * num_kv_heads * head_dim;
  std::fill_n(cache.k.begin() + nan_block * block_elems, block_elems, ToBf16(NAN));
  std::fill_n(cache.v.begin() + nan_block * block_elems, block_elems, ToBf16(NAN));
  std::replace(cache.block_tables.begin(), cache.block_tables.end(), -1, nan_block);
  return cache;
}

std::vector<double> ReferenceAttention(const HostPagedCache& cache, int seq, const float* q,
                                       int kv_head, int pos, AttentionMask mask, double scale) {
  const int d = cache.head_dim;
  std::vector<double> logits;
  std::vector<std::int64_t> offsets;
  for (int j = 0; j <= pos; ++j) {
    const bool sparse_hides = mask.window > 0 && j >= mask.sink && j <= pos - mask.window;
    if (sparse_hides) continue;
    const std::int64_t off = cache.Offset(seq, j, kv_head);
    double dot = 0.0;
    for (int c = 0; c < d; ++c) dot += static_cast<double>(q[c]) * FromBf16(cache.k[off + c]);
    logits.push_back(dot * scale);
    offsets.push_back(off);
  }
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  std::vector<double> out(d, 0.0);
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const double w = std::exp(logits[i] - max_logit);
    sum += w;
    for (int c = 0; c < d; ++c) out[c] += w * FromBf16(cache.v[offsets[i] + c]);
  }
  for (double& x : out) x /= sum;
  return out;
}

std::vector<double> ReferenceRows(const HostPagedCache& cache, const std::vector<float>& q,
                                  int num_heads, const std::vector<QueryRow>& rows,
                                  AttentionMask mask, double scale) {
  const int d = cache.head_dim;
  const int group = num_heads / cache.num_kv_heads;
  std::vector<double> out;
  out.reserve(rows.size() * num_heads * d);
  for (const QueryRow& row : rows) {
    for (int h = 0; h < num_heads; ++h) {
      const float* q_head = q.data() + (static_cast<std::size_t>(row.q_row) * num_heads + h) * d;
      const std::vector<double> o = ReferenceAttention(cache, row.seq, q_head, h / group, row.pos, mask, scale);
      out.insert(out.end(), o.begin(), o.end());
    }
  }
  return out;
}

DeviceCache::DeviceCache(const HostPagedCache& host)
    : host_(host), k_(host.k), v_(host.v), tables_(host.block_tables) {}

PagedKvCache DeviceCache::View() const {
  PagedKvCache view;
  view.k = k_.get();
  view.v = v_.get();
  view.num_blocks = host_.num_blocks;
  view.num_kv_heads = host_.num_kv_heads;
  view.head_dim = host_.head_dim;
  view.block_size = host_.block_size;
  view.token_stride = static_cast<std::int64_t>(host_.num_kv_heads) * host_.head_dim;
  view.block_stride = view.token_stride * host_.block_size;
  view.head_stride = host_.head_dim;
  view.block_tables = tables_.get();
  view.max_blocks_per_seq = host_.max_blocks_per_seq;
  return view;
}

}  // namespace deltaserve::kernels::testing
