// Chunked prefill (queries [start, start + n) against keys [0, start + n)) gives the
// one-shot result in every mode, for chunk sizes on and off the anchor grid.

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "engine/attention/prefill_attention.h"
#include "tests/engine/attention/attention_inputs.h"
#include "tests/engine/attention/reference_attention.h"

namespace deltaserve {
namespace {

constexpr double kChunkTolerance = 1e-6;

at::Tensor Chunked(const reference::AttentionInputs& inputs, int64_t prompt_len, const AttentionConfig& config,
                   int64_t chunk, AttentionTelemetry* telemetry) {
  const int64_t positions = inputs.q.size(0);
  at::Tensor out = at::empty_like(inputs.q);
  DeltaCarry carry;
  for (int64_t start = 0; start < positions; start += chunk) {
    const int64_t end = std::min(positions, start + chunk);
    out.slice(0, start, end)
        .copy_(PrefillAttention(inputs.q.slice(0, start, end), inputs.k.slice(0, 0, end), inputs.v.slice(0, 0, end),
                                start, prompt_len, config, {&carry, telemetry, nullptr}));
  }
  return out;
}

TEST(ChunkedPrefill, MatchesOneShotForEveryModeAndChunkSize) {
  const int64_t prompt_len = 800;
  const auto inputs = reference::AttentionInputs::Random(prompt_len, 4, 2, 32, 3);
  for (AttentionMode mode : {AttentionMode::kDense, AttentionMode::kSparse, AttentionMode::kRecompute,
                             AttentionMode::kDelta}) {
    const AttentionConfig config{mode, 96, 40, 48, 0.5};
    const at::Tensor one_shot = PrefillAttention(inputs.q, inputs.k, inputs.v, 0, prompt_len, config);
    for (int64_t chunk : {7, 48, 100, 129, 333, 799}) {
      EXPECT_LT(reference::RelativeError(Chunked(inputs, prompt_len, config, chunk, nullptr), one_shot),
                kChunkTolerance)
          << "mode " << AttentionModeName(mode) << " chunk " << chunk;
    }
  }
}

TEST(ChunkedPrefill, SingleTokenChunksMatchOneShot) {
  const int64_t prompt_len = 300;
  const auto inputs = reference::AttentionInputs::Random(prompt_len, 8, 1, 16, 5);
  const AttentionConfig config{AttentionMode::kDelta, 50, 10, 32};
  const at::Tensor one_shot = PrefillAttention(inputs.q, inputs.k, inputs.v, 0, prompt_len, config);
  EXPECT_LT(reference::RelativeError(Chunked(inputs, prompt_len, config, 1, nullptr), one_shot), kChunkTolerance);
}

// Prefill chunks followed by decode steps, as the engine runs a request.
TEST(ChunkedPrefill, PrefillThenDecodeMatchesReference) {
  const int64_t positions = 700;
  const int64_t prompt_len = 650;
  const auto inputs = reference::AttentionInputs::Random(positions, 4, 2, 32, 9);
  const AttentionConfig config{AttentionMode::kDelta, 64, 16, 64};
  const reference::ReferenceRows rows = reference::DenseAndSparse(inputs.q, inputs.k, inputs.v, 16, 64);
  const at::Tensor expected = reference::Prefill(rows, prompt_len, config);
  EXPECT_LT(reference::RelativeError(Chunked(inputs, prompt_len, config, 90, nullptr), expected), 1e-5);
}

TEST(ChunkedPrefill, TelemetryMatchesOneShot) {
  const int64_t prompt_len = 1000;
  const auto inputs = reference::AttentionInputs::Random(prompt_len, 4, 2, 32, 4);
  const AttentionConfig config{AttentionMode::kDelta, 96, 40, 48, 0.5};
  AttentionTelemetry one_shot;
  PrefillAttention(inputs.q, inputs.k, inputs.v, 0, prompt_len, config, {nullptr, &one_shot, nullptr});
  AttentionTelemetry chunked;
  Chunked(inputs, prompt_len, config, 70, &chunked);
  for (const auto& [name, expected, actual] :
       {std::tuple{"anchor_sparse", one_shot.anchor_sparse, chunked.anchor_sparse},
        std::tuple{"probe_sparse", one_shot.probe_sparse, chunked.probe_sparse},
        std::tuple{"probe_delta", one_shot.probe_delta, chunked.probe_delta}}) {
    ASSERT_EQ(actual.size(), expected.size()) << name;
    ASSERT_FALSE(expected.empty()) << name;
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-6) << name << " " << i;
  }
}

// Without the carry, a delta chunk that starts inside an anchor group of an earlier chunk
// cannot know that anchor's correction: a caller bug reported as c10::Error, not a
// silently wrong answer.
TEST(ChunkedPrefill, DeltaChunkOffTheGridWithoutCarryThrows) {
  const int64_t prompt_len = 600;
  const auto inputs = reference::AttentionInputs::Random(prompt_len, 2, 1, 16, 6);
  const AttentionConfig config{AttentionMode::kDelta, 32, 8, 64};
  const int64_t start = 100;
  EXPECT_THROW(PrefillAttention(inputs.q.slice(0, start, 200), inputs.k.slice(0, 0, 200), inputs.v.slice(0, 0, 200),
                                start, prompt_len, config),
               c10::Error);
}

}  // namespace
}  // namespace deltaserve
