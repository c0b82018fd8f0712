// The attention launchers answer arguments they cannot serve with cudaErrorInvalidValue
// before launching anything (the output stays poisoned), field by field, while the same
// arguments unbroken run: a cache without its block count (the Hopper kernel's TMA
// descriptors need it), misaligned K/V pointers or strides, an unsupported head_dim, heads
// that do not divide into KV groups, a missing index array, a non-positive scale.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "tests/kernels/attention_reference.h"

namespace deltaserve::kernels::testing {
namespace {

constexpr int kHeadDim = 128;
constexpr int kHeads = 8;
constexpr int kKvHeads = 2;
constexpr int kBlockSize = 16;
constexpr int kTokens = 40;
constexpr std::int64_t kRowElems = static_cast<std::int64_t>(kHeads) * kHeadDim;

struct Breakage {
  std::string name;
  std::function<void(PagedKvCache&, RowTensor& q, int& num_heads, float& scale)> apply;
};

// One sequence of kTokens prefilled at once, and its last token decoded, on a valid cache.
class AttentionArguments : public ::testing::Test {
 protected:
  AttentionArguments()
      : rng_(5),
        host_cache_(RandomPagedCache({kTokens}, kKvHeads, kHeadDim, kBlockSize, rng_)),
        cache_(host_cache_),
        q_(RandomBf16(kTokens * kRowElems, 1.f, rng_)),
        out_(kTokens * kRowElems),
        cu_(std::vector<std::int32_t>{0, kTokens}),
        starts_(std::vector<std::int32_t>{0}),
        lens_(std::vector<std::int32_t>{kTokens}) {}

  // The fields prefill and decode share, for one sequence.
  template <typename Args>
  Args OneSequence() const {
    Args args;
    args.q = {q_.get(), kRowElems, kHeadDim};
    args.out = {out_.get(), kRowElems, kHeadDim};
    args.num_heads = kHeads;
    args.num_seqs = 1;
    args.cache = cache_.View();
    args.softmax_scale = 1.f / std::sqrt(static_cast<float>(kHeadDim));
    return args;
  }

  PrefillAttentionArgs Prefill() const {
    auto args = OneSequence<PrefillAttentionArgs>();
    args.max_seqlen_q = kTokens;
    args.cu_seqlens_q = cu_.get();
    args.start_pos = starts_.get();
    return args;
  }

  DecodeAttentionArgs Decode() const {
    auto args = OneSequence<DecodeAttentionArgs>();
    args.max_seq_len = kTokens;
    args.seq_lens = lens_.get();
    return args;
  }

  // Every output element still holds the poison (all bits set).
  bool OutputUntouched() const {
    for (Bf16Bits bits : out_.Download()) {
      if (bits != 0xFFFF) return false;
    }
    return true;
  }

  std::mt19937 rng_;
  HostPagedCache host_cache_;
  DeviceCache cache_;
  DeviceBuffer<Bf16Bits> q_;
  DeviceBuffer<Bf16Bits> out_;
  DeviceBuffer<std::int32_t> cu_;
  DeviceBuffer<std::int32_t> starts_;
  DeviceBuffer<std::int32_t> lens_;
};

TEST_F(AttentionArguments, UnbrokenArgumentsRun) {
  DS_ASSERT_CUDA(PrefillAttention(Prefill(), nullptr));
  DS_ASSERT_CUDA(DecodeAttention(Decode(), nullptr, 0, nullptr));
  DS_ASSERT_CUDA(cudaDeviceSynchronize());
  EXPECT_FALSE(OutputUntouched());
}

class AttentionRejects : public AttentionArguments, public ::testing::WithParamInterface<Breakage> {};

TEST_P(AttentionRejects, PrefillAndDecode) {
  PrefillAttentionArgs prefill = Prefill();
  GetParam().apply(prefill.cache, prefill.q, prefill.num_heads, prefill.softmax_scale);
  EXPECT_EQ(PrefillAttention(prefill, nullptr), cudaErrorInvalidValue);
  DecodeAttentionArgs decode = Decode();
  GetParam().apply(decode.cache, decode.q, decode.num_heads, decode.softmax_scale);
  EXPECT_EQ(DecodeAttention(decode, nullptr, 0, nullptr), cudaErrorInvalidValue);
  DS_ASSERT_CUDA(cudaDeviceSynchronize());
  EXPECT_TRUE(OutputUntouched());
}

INSTANTIATE_TEST_SUITE_P(
    Fields, AttentionRejects,
    ::testing::Values(
        Breakage{"no_block_count", [](PagedKvCache& c, RowTensor&, int&, float&) { c.num_blocks = 0; }},
        Breakage{"misaligned_k",
                 [](PagedKvCache& c, RowTensor&, int&, float&) { c.k = static_cast<const Bf16Bits*>(c.k) + 1; }},
        Breakage{"misaligned_token_stride", [](PagedKvCache& c, RowTensor&, int&, float&) { c.token_stride += 4; }},
        Breakage{"head_dim_96", [](PagedKvCache& c, RowTensor&, int&, float&) { c.head_dim = 96; }},
        Breakage{"no_block_tables", [](PagedKvCache& c, RowTensor&, int&, float&) { c.block_tables = nullptr; }},
        Breakage{"heads_not_a_multiple_of_kv_heads", [](PagedKvCache&, RowTensor&, int& heads, float&) { heads = 7; }},
        Breakage{"misaligned_q_rows", [](PagedKvCache&, RowTensor& q, int&, float&) { q.row_stride += 1; }},
        Breakage{"zero_scale", [](PagedKvCache&, RowTensor&, int&, float& scale) { scale = 0.f; }}),
    [](const ::testing::TestParamInfo<Breakage>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace deltaserve::kernels::testing
