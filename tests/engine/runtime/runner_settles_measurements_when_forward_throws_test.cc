// A forward pass that throws (a CUDA out-of-memory error halfway through a prompt chunk)
// frees its StepLogits, whose measurements the attention backend was handed. The runner
// settles the backend (EndForward) before they go, together with the measurements of an
// earlier pass that carried a chunk on and is still alive; the error it reports is the
// pass's own even when settling fails too; and the next pass settles only its own.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/runtime/block_manager.h"
#include "engine/runtime/device_model.h"
#include "engine/runtime/model_runner.h"
#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

constexpr double kPendingCosine = 0.5;

// The CPU backend with measurements that stay pending until EndForward, as a GPU's do: a
// cosine waits in each chunk's layer-0 telemetry, read back by EndForward. Its tensor tells
// when it is freed, which before EndForward means with its measurements. When armed, a
// pass fails at layer 1.
class PendingAttention : public AttentionBackend {
 public:
  // What one EndForward was given.
  struct Settled {
    std::vector<const PrefillMeasurements*> measurements;
    int64_t already_freed = 0;  // of those, freed before it ran
  };

  explicit PendingAttention(std::unique_ptr<AttentionBackend> inner) : inner_(std::move(inner)) {}

  void Arm(bool forward_fails, bool end_forward_fails = false) {
    forward_fails_ = forward_fails;
    end_forward_fails_ = end_forward_fails;
  }
  const std::vector<Settled>& settled() const { return settled_; }

  void BeginForward(const AttentionBatch& batch) override { inner_->BeginForward(batch); }

  at::Tensor Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionBatch& batch) override {
    TORCH_CHECK(!(forward_fails_ && layer == 1), "forward failed at layer 1");
    at::Tensor out = inner_->Forward(layer, q, k, v, batch);
    if (layer != 0) return out;
    for (const AttentionSequence& seq : batch.sequences) {
      if (seq.measurements == nullptr) continue;
      auto freed = std::make_shared<bool>(false);
      at::Tensor cosine = at::from_blob(&cosine_, {1}, [freed](void*) { *freed = true; }, at::kDouble);
      seq.measurements->layers.at(0).pending.push_back({&AttentionTelemetry::anchor_sparse, std::move(cosine)});
      pending_.push_back({seq.measurements, std::move(freed)});
    }
    return out;
  }

  void EndForward() override {
    Settled settled;
    for (const Pending& pending : std::exchange(pending_, {})) {
      settled.measurements.push_back(pending.measurements);
      // Its measurements are gone: writing them would be the use-after-free under test.
      if (*pending.freed) {
        ++settled.already_freed;
        continue;
      }
      ReadBackTelemetry({&pending.measurements->layers.at(0)});
    }
    settled_.push_back(std::move(settled));
    inner_->EndForward();
    TORCH_CHECK(!end_forward_fails_, "settling failed");
  }

 private:
  struct Pending {
    PrefillMeasurements* measurements;
    std::shared_ptr<bool> freed;
  };

  std::unique_ptr<AttentionBackend> inner_;
  double cosine_ = kPendingCosine;
  bool forward_fails_ = false;
  bool end_forward_fails_ = false;
  std::vector<Pending> pending_;
  std::vector<Settled> settled_;
};

DeviceModel Stories260KWithPendingAttention() {
  absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return {};
  absl::StatusOr<DeviceModel> model = BuildCpuModel(source->config, std::move(source->weights), SmallEngineConfig());
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  model->attention = std::make_unique<PendingAttention>(std::move(model->attention));
  return *std::move(model);
}

// stories260K behind a ModelRunner, with sequences whose blocks the block manager handed out.
class RunnerWithPendingAttention : public ::testing::Test {
 protected:
  RunnerWithPendingAttention()
      : model_(Stories260KWithPendingAttention()),
        attention_(static_cast<PendingAttention&>(*model_.attention)),
        blocks_(model_.cache->shape().num_blocks, model_.cache->shape().block_size),
        runner_(model_, StepProfiler(TorchProfileConfig{}, /*cuda=*/false)) {
    at::set_num_threads(1);
  }

  // The first `tokens` of a new prompt of `prompt_len` tokens.
  std::vector<ScheduledSequence> Prefill(int64_t prompt_len, int64_t tokens) {
    std::vector<int32_t> prompt{1};
    const int32_t offset = static_cast<int32_t>(sequences_.size()) * 11;
    for (int32_t i = 1; i < prompt_len; ++i) prompt.push_back(3 + (i * 37 + offset) % 500);
    sequences_.push_back(std::make_unique<Sequence>("s" + std::to_string(sequences_.size()), std::move(prompt),
                                                    Greedy(1), DenseAttention(), 0, 0, sequences_.size()));
    blocks_.Allocate(*sequences_.back());
    return {ScheduledSequence{sequences_.back().get(), tokens}};
  }

  // The message of the error a pass fails with; empty when it does not.
  std::string FailingRun(const std::vector<ScheduledSequence>& scheduled) {
    try {
      runner_.Wait(runner_.Launch(scheduled));
    } catch (const c10::Error& e) {
      return e.what_without_backtrace();
    }
    return "";
  }

  DeviceModel model_;
  PendingAttention& attention_;
  BlockManager blocks_;
  ModelRunner runner_;
  std::vector<std::unique_ptr<Sequence>> sequences_;
};

TEST_F(RunnerWithPendingAttention, ThrowingPassIsSettledBeforeItsMeasurementsGo) {
  // A chunk that carries its prompt on: settled with a later pass.
  const StepLogits carried = runner_.Wait(runner_.Launch(Prefill(40, 16)));
  ASSERT_FALSE(carried.measurements_complete);
  ASSERT_TRUE(attention_.settled().empty());

  attention_.Arm(/*forward_fails=*/true);
  EXPECT_THAT(FailingRun(Prefill(24, 24)), ::testing::HasSubstr("forward failed at layer 1"));
  ASSERT_EQ(attention_.settled().size(), 1u);
  const PendingAttention::Settled& failed = attention_.settled()[0];
  // The carried chunk's and the failed pass's own.
  EXPECT_THAT(failed.measurements, ::testing::ElementsAre(&carried.prefill[0].measurements, ::testing::_));
  EXPECT_EQ(failed.already_freed, 0);
  EXPECT_EQ(carried.prefill[0].measurements.layers[0].anchor_sparse, std::vector<double>{kPendingCosine});

  attention_.Arm(/*forward_fails=*/false);
  const StepLogits next = runner_.Wait(runner_.Launch(Prefill(24, 24)));
  ASSERT_EQ(attention_.settled().size(), 2u);
  EXPECT_THAT(attention_.settled()[1].measurements, ::testing::ElementsAre(&next.prefill[0].measurements));
  EXPECT_EQ(attention_.settled()[1].already_freed, 0);
  EXPECT_EQ(next.prefill[0].measurements.layers[0].anchor_sparse, std::vector<double>{kPendingCosine});
  EXPECT_EQ(next.greedy_tokens.size(), 1u);
}

TEST_F(RunnerWithPendingAttention, FailedSettlingLeavesTheForwardErrorToReport) {
  attention_.Arm(/*forward_fails=*/true, /*end_forward_fails=*/true);
  const std::string error = FailingRun(Prefill(24, 24));
  EXPECT_THAT(error, ::testing::HasSubstr("forward failed at layer 1"));
  EXPECT_THAT(error, ::testing::Not(::testing::HasSubstr("settling failed")));
  ASSERT_EQ(attention_.settled().size(), 1u);
  EXPECT_EQ(attention_.settled()[0].already_freed, 0);
}

}  // namespace
}  // namespace deltaserve::testing
