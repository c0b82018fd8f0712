// Delta / recompute report cos(sparse[a], dense[a]) at every anchor and, for probed
// groups, cos(sparse[m], dense[m]) and cos(delta[m], dense[m]) at the group's middle;
// the values equal the float64 reference and probing leaves the output unchanged.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "engine/attention/prefill_attention.h"
#include "tests/engine/attention/attention_inputs.h"
#include "tests/engine/attention/reference_attention.h"

namespace deltaserve {
namespace {

constexpr int64_t kPromptLen = 1100;
constexpr int64_t kSink = 16;
constexpr int64_t kWindow = 64;
constexpr int64_t kLambda = 64;

class AttentionTelemetryTest : public ::testing::Test {
 protected:
  // The float64 reference is the slow part: computed once for the suite.
  static void SetUpTestSuite() {
    inputs_ = new reference::AttentionInputs(reference::AttentionInputs::Random(kPromptLen, 4, 2, 32, 21));
    rows_ = new reference::ReferenceRows(reference::DenseAndSparse(inputs_->q, inputs_->k, inputs_->v, kSink, kWindow));
  }
  static void TearDownTestSuite() {
    delete inputs_;
    delete rows_;
  }

  static AttentionTelemetry Run(AttentionMode mode, double probe_fraction, at::Tensor* out = nullptr) {
    AttentionTelemetry telemetry;
    const at::Tensor result = PrefillAttention(inputs_->q, inputs_->k, inputs_->v, 0, kPromptLen,
                                               AttentionConfig{mode, kWindow, kSink, kLambda, probe_fraction},
                                               {nullptr, &telemetry, nullptr});
    if (out != nullptr) *out = result;
    return telemetry;
  }

  static double SparseCosine(int64_t position) {
    return reference::MeanHeadCosine(rows_->sparse[position], rows_->dense[position]);
  }

  static double DeltaCosine(int64_t position) {
    const int64_t anchor = position / kLambda * kLambda;
    const at::Tensor delta = rows_->sparse[position] + rows_->dense[anchor] - rows_->sparse[anchor];
    return reference::MeanHeadCosine(delta, rows_->dense[position]);
  }

  static reference::AttentionInputs* inputs_;
  static reference::ReferenceRows* rows_;
};

reference::AttentionInputs* AttentionTelemetryTest::inputs_ = nullptr;
reference::ReferenceRows* AttentionTelemetryTest::rows_ = nullptr;

TEST_F(AttentionTelemetryTest, AnchorCosinesMatchReference) {
  for (AttentionMode mode : {AttentionMode::kDelta, AttentionMode::kRecompute}) {
    const AttentionTelemetry telemetry = Run(mode, 0.0);
    const int64_t sparse_end = reference::SparseEnd(kPromptLen, kLambda);
    std::vector<double> expected;
    for (int64_t anchor = 0; anchor < sparse_end; anchor += kLambda) expected.push_back(SparseCosine(anchor));
    ASSERT_EQ(telemetry.anchor_sparse.size(), expected.size()) << AttentionModeName(mode);
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(telemetry.anchor_sparse[i], expected[i], 1e-5);
    EXPECT_TRUE(telemetry.probe_sparse.empty());
    EXPECT_TRUE(telemetry.probe_delta.empty());
  }
}

// probe_fraction 1/3 probes every third group, at its middle position.
TEST_F(AttentionTelemetryTest, ProbeCosinesMatchReference) {
  const AttentionTelemetry telemetry = Run(AttentionMode::kDelta, 1.0 / 3.0);
  const int64_t sparse_end = reference::SparseEnd(kPromptLen, kLambda);
  std::vector<int64_t> probes;
  for (int64_t group = 0; group * kLambda + kLambda / 2 < sparse_end; group += 3) {
    probes.push_back(group * kLambda + kLambda / 2);
  }
  ASSERT_EQ(telemetry.probe_sparse.size(), probes.size());
  ASSERT_EQ(telemetry.probe_delta.size(), probes.size());
  for (size_t i = 0; i < probes.size(); ++i) {
    EXPECT_NEAR(telemetry.probe_sparse[i], SparseCosine(probes[i]), 1e-5) << "probe at " << probes[i];
    EXPECT_NEAR(telemetry.probe_delta[i], DeltaCosine(probes[i]), 1e-5) << "probe at " << probes[i];
  }
}

TEST_F(AttentionTelemetryTest, RecomputeProbesMeasureItsSparseOutputOnly) {
  const AttentionTelemetry telemetry = Run(AttentionMode::kRecompute, 0.5);
  EXPECT_FALSE(telemetry.probe_sparse.empty());
  EXPECT_TRUE(telemetry.probe_delta.empty());
}

TEST_F(AttentionTelemetryTest, ProbesDoNotChangeTheOutput) {
  at::Tensor without;
  at::Tensor with;
  Run(AttentionMode::kDelta, 0.0, &without);
  Run(AttentionMode::kDelta, 1.0, &with);
  EXPECT_TRUE(at::equal(without, with));
}

TEST_F(AttentionTelemetryTest, DenseAndSparseModesReportNothing) {
  for (AttentionMode mode : {AttentionMode::kDense, AttentionMode::kSparse}) {
    const AttentionTelemetry telemetry = Run(mode, 1.0);
    EXPECT_TRUE(telemetry.anchor_sparse.empty()) << AttentionModeName(mode);
    EXPECT_TRUE(telemetry.probe_sparse.empty()) << AttentionModeName(mode);
    EXPECT_TRUE(telemetry.probe_delta.empty()) << AttentionModeName(mode);
  }
}

}  // namespace
}  // namespace deltaserve
