// RoPE fused with the KV-cache write: q is rotated in place, the rotated k and the v of
// each token land in their slot, and slots that no token names (or slot -1) stay untouched,
// on the 16-byte path (aligned, head_dim / 2 a multiple of 8) and the one-element path (q
// shifted by one element, or head_dim 72), at positions up to 131071.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>
#include <vector>

#include "kernels/rope_kv_write.h"
#include "tests/kernels/kernel_test_support.h"

namespace deltaserve::kernels::testing {
namespace {

// HF Llama: angle = float32(position * inv_freq[i]); out[i] = x[i] cos - x[i+half] sin,
// out[i+half] = x[i+half] cos + x[i] sin.
void RotateReference(const float* x, int head_dim, int pos, const std::vector<float>& inv_freq,
                     double* out) {
  const int half = head_dim / 2;
  for (int i = 0; i < half; ++i) {
    const double angle = static_cast<float>(pos) * inv_freq[i];
    out[i] = x[i] * std::cos(angle) - x[i + half] * std::sin(angle);
    out[i + half] = x[i + half] * std::cos(angle) + x[i] * std::sin(angle);
  }
}

class RopeKvWriteTest : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(RopeKvWriteTest, RotatesQueryAndWritesCacheSlots) {
  const auto [d, shift_q] = GetParam();
  constexpr int kTokens = 37;
  constexpr int kHeads = 8;
  constexpr int kKvHeads = 2;
  constexpr int kBlockSize = 16;
  constexpr int kBlocks = 6;
  constexpr Bf16Bits kGuard = 0x1234;
  std::mt19937 rng(d * 2 + shift_q);
  std::vector<float> inv_freq(d / 2);
  for (int i = 0; i < d / 2; ++i) inv_freq[i] = static_cast<float>(std::pow(500000.0, -2.0 * i / d));
  std::vector<std::int32_t> positions(kTokens);
  std::uniform_int_distribution<int> position(0, 131071);
  for (auto& p : positions) p = position(rng);
  positions[1] = 131071;  // the longest context's last token: angles past 1e5 rad
  positions[2] = 0;
  std::vector<std::int32_t> slots(kBlocks * kBlockSize);
  std::iota(slots.begin(), slots.end(), 0);
  std::shuffle(slots.begin(), slots.end(), rng);
  slots.resize(kTokens);
  for (int t : {0, 5, kTokens - 1}) slots[t] = -1;  // padding tokens write nothing

  const std::vector<Bf16Bits> q = RandomBf16(kTokens * kHeads * d, 1.f, rng);
  const std::vector<Bf16Bits> k = RandomBf16(kTokens * kKvHeads * d, 1.f, rng);
  const std::vector<Bf16Bits> v = RandomBf16(kTokens * kKvHeads * d, 1.f, rng);
  // Guard elements ahead of q: 8 keep every q row 16-byte aligned, 1 misaligns them by 2
  // bytes; the kernel must leave them alone either way. (Built at full size: g++ 13 saw an
  // out-of-bounds copy in inserting q behind a one-element vector, -Warray-bounds.)
  const int q_offset = shift_q ? 1 : 8;
  std::vector<Bf16Bits> q_host(q_offset + q.size(), kGuard);
  std::copy(q.begin(), q.end(), q_host.begin() + q_offset);
  DeviceBuffer<Bf16Bits> q_dev(q_host);
  DeviceBuffer<Bf16Bits> k_dev(k);
  DeviceBuffer<Bf16Bits> v_dev(v);
  DeviceBuffer<std::int32_t> pos_dev(positions);
  DeviceBuffer<float> freq_dev(inv_freq);
  DeviceBuffer<std::int32_t> slot_dev(slots);
  const std::size_t cache_elems = static_cast<std::size_t>(kBlocks) * kBlockSize * kKvHeads * d;
  DeviceBuffer<Bf16Bits> k_cache(cache_elems);
  DeviceBuffer<Bf16Bits> v_cache(cache_elems);

  RopeKvWriteArgs args;
  args.q = {q_dev.get() + q_offset, kHeads * d, d};
  args.k = {k_dev.get(), kKvHeads * d, d};
  args.v = {v_dev.get(), kKvHeads * d, d};
  args.num_tokens = kTokens;
  args.num_heads = kHeads;
  args.num_kv_heads = kKvHeads;
  args.head_dim = d;
  args.positions = pos_dev.get();
  args.inv_freq = freq_dev.get();
  args.slot_mapping = slot_dev.get();
  args.k_cache = k_cache.get();
  args.v_cache = v_cache.get();
  args.block_size = kBlockSize;
  args.token_stride = kKvHeads * d;
  args.block_stride = args.token_stride * kBlockSize;
  args.head_stride = d;
  DS_ASSERT_CUDA(RopeKvWrite(args, nullptr));
  DS_ASSERT_CUDA(cudaDeviceSynchronize());

  const std::vector<float> qf = FromBf16(q);
  const std::vector<float> kf = FromBf16(k);
  std::vector<double> want_q(q.size());
  for (int t = 0; t < kTokens; ++t) {
    for (int h = 0; h < kHeads; ++h) {
      const std::size_t at = (static_cast<std::size_t>(t) * kHeads + h) * d;
      RotateReference(&qf[at], d, positions[t], inv_freq, &want_q[at]);
    }
  }
  std::vector<Bf16Bits> got_q = q_dev.Download();
  EXPECT_TRUE(std::all_of(got_q.begin(), got_q.begin() + q_offset, [](Bf16Bits b) { return b == kGuard; }))
      << "an element before q was written";
  got_q.erase(got_q.begin(), got_q.begin() + q_offset);
  EXPECT_LT(RelativeError(FromBf16(got_q), want_q), 1e-2);

  const std::vector<Bf16Bits> got_k = k_cache.Download();
  const std::vector<Bf16Bits> got_v = v_cache.Download();
  std::vector<float> written_k;
  std::vector<double> want_k;
  std::vector<bool> slot_written(kBlocks * kBlockSize, false);
  for (int t = 0; t < kTokens; ++t) {
    if (slots[t] < 0) continue;
    slot_written[slots[t]] = true;
    for (int h = 0; h < kKvHeads; ++h) {
      const std::size_t src = (static_cast<std::size_t>(t) * kKvHeads + h) * d;
      const std::size_t dst = (static_cast<std::size_t>(slots[t]) * kKvHeads + h) * d;
      std::vector<double> rotated(d);
      RotateReference(&kf[src], d, positions[t], inv_freq, rotated.data());
      want_k.insert(want_k.end(), rotated.begin(), rotated.end());
      for (int c = 0; c < d; ++c) {
        written_k.push_back(FromBf16(got_k[dst + c]));
        ASSERT_EQ(got_v[dst + c], v[src + c]) << "v of token " << t << " head " << h;
      }
    }
  }
  EXPECT_LT(RelativeError(written_k, want_k), 1e-2);
  for (int slot = 0; slot < kBlocks * kBlockSize; ++slot) {
    if (slot_written[slot]) continue;
    const std::size_t at = static_cast<std::size_t>(slot) * kKvHeads * d;
    const auto poisoned = [](Bf16Bits b) { return b == 0xFFFF; };
    EXPECT_TRUE(std::all_of(got_k.begin() + at, got_k.begin() + at + kKvHeads * d, poisoned))
        << "k of slot " << slot << " was written";
    EXPECT_TRUE(std::all_of(got_v.begin() + at, got_v.begin() + at + kKvHeads * d, poisoned))
        << "v of slot " << slot << " was written";
  }
}

INSTANTIATE_TEST_SUITE_P(HeadDimsAndAlignment, RopeKvWriteTest,
                         ::testing::Combine(::testing::Values(64, 72, 128), ::testing::Bool()));

}  // namespace
}  // namespace deltaserve::kernels::testing
