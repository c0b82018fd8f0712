// A decode step replayed from a CUDA graph computes what the eager step computes: eleven
// sequences of different lengths with scattered block tables (the graph's bucket of 12
// has a padding row), over a cache of random keys and values.
#include <gtest/gtest.h>

#include <optional>

#include "tests/engine/cuda/small_models.h"

namespace deltaserve::testing {
namespace {

constexpr int64_t kBlockSize = 16;
constexpr int64_t kBlocksPerSeq = 40;

// A decode batch and the block tables its sequences point into.
struct DecodeStep {
  std::vector<std::vector<int32_t>> tables;
  ForwardBatch batch;
};

DecodeStep DecodeBatch(int64_t count) {
  DecodeStep step;
  ForwardBatch& batch = step.batch;
  std::vector<std::vector<int32_t>>& tables = step.tables;
  std::vector<int64_t> tokens, positions, slots, rows;
  tables.assign(static_cast<size_t>(count), {});
  for (int64_t i = 0; i < count; ++i) {
    const int64_t position = 30 + 41 * i;
    for (int64_t b = 0; b < kBlocksPerSeq; ++b) tables[i].push_back(static_cast<int32_t>(b * count + (count - 1 - i)));
    tokens.push_back(5 + 7 * i);
    positions.push_back(position);
    slots.push_back(tables[i][position / kBlockSize] * kBlockSize + position % kBlockSize);
    rows.push_back(i);
    batch.attention.sequences.push_back(AttentionSequence{i, 1, position, /*prompt_len=*/20, tables[i], Mode(AttentionMode::kDelta)});
  }
  batch.token_ids = at::tensor(tokens, at::kLong);
  batch.attention.positions = at::tensor(positions, at::kLong);
  batch.attention.slots = at::tensor(slots, at::kLong);
  batch.logit_rows = at::tensor(rows, at::kLong);
  return step;
}

TEST(CudaGraphDecode, ReplayGivesTheEagerLogits) {
  const ModelConfig config = SmallLlama(128);
  EngineConfig engine;
  engine.device = ComputeDevice::kCuda;
  engine.max_num_seqs = 12;  // buckets 1, 2, 4, 8, 12
  engine.max_model_len = kBlocksPerSeq * kBlockSize;
  engine.kv_cache_bytes = KvCache::BytesPerBlock({3, 0, kBlockSize, 2, 128}, at::kBFloat16) * kBlocksPerSeq * 12;
  absl::StatusOr<DeviceModel> gpu = BuildCudaModel(config, SharpWeights(config, 9), engine);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  ASSERT_NE(gpu->replay, nullptr);
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    gpu->cache->keys(layer).normal_();
    gpu->cache->values(layer).normal_();
  }
  const DecodeStep step = DecodeBatch(11);
  const ForwardBatch& batch = step.batch;
  const at::Tensor eager = gpu->model->Forward(batch, *gpu->attention);
  gpu->attention->EndForward();
  const std::optional<at::Tensor> replayed = gpu->replay->TryReplay(batch);
  ASSERT_TRUE(replayed.has_value());
  ASSERT_EQ(replayed->sizes(), eager.sizes());
  const double scale = eager.abs().max().item<double>();
  EXPECT_LT((*replayed - eager).abs().max().item<double>(), 1e-2 * scale);
  EXPECT_GT(Cosine(*replayed, eager), 0.9999);
}

TEST(CudaGraphDecode, PrefillAndOversizedBatchesRunEagerly) {
  const ModelConfig config = SmallLlama(64);
  EngineConfig engine;
  engine.device = ComputeDevice::kCuda;
  engine.max_num_seqs = 4;
  engine.max_model_len = kBlocksPerSeq * kBlockSize;
  engine.kv_cache_bytes = KvCache::BytesPerBlock({3, 0, kBlockSize, 2, 64}, at::kBFloat16) * kBlocksPerSeq * 12;
  absl::StatusOr<DeviceModel> gpu = BuildCudaModel(config, SharpWeights(config, 9), engine);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  EXPECT_FALSE(gpu->replay->TryReplay(DecodeBatch(5).batch).has_value());  // more than max_num_seqs
  DecodeStep prefill = DecodeBatch(2);
  prefill.batch.attention.sequences[1].start_position = 10;  // a prompt token: not a decode step
  EXPECT_FALSE(gpu->replay->TryReplay(prefill.batch).has_value());
}

}  // namespace
}  // namespace deltaserve::testing
