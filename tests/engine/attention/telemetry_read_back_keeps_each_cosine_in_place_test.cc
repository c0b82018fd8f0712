// A GPU leaves each chunk's cosines pending on the device; ReadBackTelemetry brings all
// of them back in one copy and must append every value to its own layer and kind, in
// the order they were recorded, after what the vectors already held.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "engine/attention/prefill_attention.h"

namespace deltaserve {
namespace {

at::Tensor Values(std::vector<float> values) { return at::tensor(values); }

TEST(TelemetryReadBackTest, EveryPendingValueLandsInItsLayerAndKindInOrder) {
  AttentionTelemetry first;
  first.anchor_sparse = {0.5};
  first.pending.push_back({&AttentionTelemetry::anchor_sparse, Values({0.25f, 0.75f})});
  first.pending.push_back({&AttentionTelemetry::probe_delta, Values({1.0f})});
  first.pending.push_back({&AttentionTelemetry::anchor_sparse, Values({0.125f})});
  AttentionTelemetry empty;
  AttentionTelemetry second;
  second.pending.push_back({&AttentionTelemetry::probe_sparse, Values({})});
  second.pending.push_back({&AttentionTelemetry::probe_sparse, Values({0.0625f, -0.5f})});

  ReadBackTelemetry({&first, &empty, &second});

  EXPECT_EQ(first.anchor_sparse, (std::vector<double>{0.5, 0.25, 0.75, 0.125}));
  EXPECT_EQ(first.probe_delta, (std::vector<double>{1.0}));
  EXPECT_TRUE(first.probe_sparse.empty());
  EXPECT_EQ(second.probe_sparse, (std::vector<double>{0.0625, -0.5}));
  EXPECT_TRUE(empty.anchor_sparse.empty() && empty.probe_sparse.empty() && empty.probe_delta.empty());
  for (const AttentionTelemetry* telemetry : {&first, &empty, &second}) EXPECT_TRUE(telemetry->pending.empty());
}

TEST(TelemetryReadBackTest, NothingPendingChangesNothing) {
  AttentionTelemetry telemetry;
  telemetry.probe_delta = {0.9};
  ReadBackTelemetry({&telemetry});
  EXPECT_EQ(telemetry.probe_delta, (std::vector<double>{0.9}));
}

}  // namespace
}  // namespace deltaserve
