#include "engine/attention/prefill_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "engine/attention/delta_layout.h"
#include "engine/attention/key_visibility.h"
#include "engine/attention/tiled_attention.h"

namespace deltaserve {
namespace {

std::vector<int64_t> Positions(int64_t begin, int64_t end) {
  std::vector<int64_t> positions(static_cast<size_t>(std::max<int64_t>(0, end - begin)));
  std::iota(positions.begin(), positions.end(), begin);
  return positions;
}

// Indices on `device`. A GPU gets them through pinned memory without waiting: a plain
// copy to the device would stall it several times per layer and sequence.
at::Tensor IndexTensor(const std::vector<int64_t>& values, at::Device device) {
  const at::Tensor host = at::tensor(values, at::kLong);
  return device.is_cpu() ? host : host.pin_memory().to(device, /*non_blocking=*/true);
}

// Row indices of `positions` in a tensor whose row 0 is position `first`.
at::Tensor RowsOf(std::vector<int64_t> positions, int64_t first, at::Device device) {
  for (int64_t& position : positions) position -= first;
  return IndexTensor(positions, device);
}

// The queries of one call [start, end), split by how they are computed.
struct QueryPlan {
  int64_t sparse_end;            // queries [start, sparse_end) are sparse
  std::vector<int64_t> anchors;  // anchors among the sparse queries
  std::vector<int64_t> dense;    // output rows computed dense: the anchors first, then the rest
  std::vector<int64_t> probes;   // extra dense queries, measured but not output
};

QueryPlan PlanQueries(int64_t start, int64_t end, int64_t prompt_len, const AttentionConfig& config) {
  QueryPlan plan{start, {}, {}, {}};
  switch (config.mode) {
    case AttentionMode::kDense:
      break;
    case AttentionMode::kSparse:
      plan.sparse_end = std::clamp(prompt_len, start, end);
      break;
    case AttentionMode::kRecompute:
    case AttentionMode::kDelta: {
      const DeltaLayout layout(prompt_len, config.lambda);
      plan.sparse_end = std::clamp(layout.sparse_end(), start, end);
      plan.anchors = layout.AnchorsIn(start, plan.sparse_end);
      plan.probes = layout.ProbesIn(start, plan.sparse_end, config.probe_fraction);
      break;
    }
  }
  plan.dense = plan.anchors;
  for (int64_t position = plan.sparse_end; position < end; ++position) plan.dense.push_back(position);
  return plan;
}

// dense[a] - sparse[a] for every anchor group that the sparse rows of a call belong to.
struct GroupCorrections {
  int64_t lambda;
  int64_t first_group;
  at::Tensor values;  // [groups, H, d]

  // The correction of each of `positions`, [n, H, d].
  at::Tensor At(std::vector<int64_t> positions) const {
    for (int64_t& position : positions) position = position / lambda - first_group;
    return values.index_select(0, IndexTensor(positions, values.device()));
  }
};

// The corrections of the groups from the one of `start` on: the anchors of this call
// give theirs; the group of `start` comes from the carry when its anchor lies in an
// earlier chunk.
GroupCorrections CollectCorrections(const DeltaLayout& layout, int64_t start, const at::Tensor& anchor_corrections,
                                    const DeltaCarry* carry) {
  const int64_t first_anchor = layout.AnchorOf(start);
  GroupCorrections corrections{layout.lambda(), layout.GroupOf(start), anchor_corrections};
  if (first_anchor == start) return corrections;
  TORCH_CHECK(carry != nullptr && carry->anchor == first_anchor, "delta attention: the chunk starting at position ",
              start, " needs the correction of anchor ", first_anchor,
              " from the previous chunk of this sequence and layer (pass the DeltaCarry it filled)");
  corrections.values = at::cat({carry->correction.unsqueeze(0), anchor_corrections});
  return corrections;
}

// Cosine similarity of [N, H, d] rows, averaged over heads: N values into `telemetry`'s
// `into`, read back at once on the CPU, later on a GPU (the backend's EndForward).
void RecordCosines(AttentionTelemetry& telemetry, std::vector<double> AttentionTelemetry::*into, const at::Tensor& a,
                   const at::Tensor& b) {
  const at::Tensor cosines = at::cosine_similarity(a.to(at::kFloat), b.to(at::kFloat), /*dim=*/2).mean(1);
  telemetry.pending.push_back(AttentionTelemetry::Pending{into, cosines});
  if (cosines.device().is_cpu()) ReadBackTelemetry({&telemetry});
}

}  // namespace

at::Tensor CombinePrefillAttention(const at::Tensor& like, int64_t start, int64_t num_queries, int64_t prompt_len,
                                   const AttentionConfig& config, const PrefillAttentionExtras& extras,
                                   const AttendPositionsFn& attend) {
  const int64_t end = start + num_queries;
  const QueryPlan plan = PlanQueries(start, end, prompt_len, config);
  const KeyVisibility sink_and_window = KeyVisibility::SinkAndWindow(config.sink, config.window);

  AttentionCost cost;
  const std::vector<int64_t> sparse_positions = Positions(start, plan.sparse_end);
  const at::Tensor sparse = attend(sparse_positions, sink_and_window, &cost.sparse_score_pairs);
  const at::Tensor dense = attend(plan.dense, KeyVisibility::Causal(), &cost.dense_score_pairs);
  const at::Tensor probe_dense = attend(plan.probes, KeyVisibility::Causal(), &cost.dense_score_pairs);
  cost.sparse_queries = plan.sparse_end - start;
  cost.dense_queries = static_cast<int64_t>(plan.dense.size() + plan.probes.size());

  const at::Device device = like.device();
  const int64_t anchor_count = static_cast<int64_t>(plan.anchors.size());
  const at::Tensor anchor_sparse = sparse.index_select(0, RowsOf(plan.anchors, start, device));
  const at::Tensor anchor_dense = dense.slice(0, 0, anchor_count);
  const at::Tensor probe_sparse = sparse.index_select(0, RowsOf(plan.probes, start, device));

  at::Tensor out = at::empty({num_queries, like.size(1), like.size(2)}, like.options());
  at::Tensor out_sparse = out.slice(0, 0, plan.sparse_end - start);
  out_sparse.copy_(sparse);
  if (config.mode == AttentionMode::kDelta && plan.sparse_end > start) {
    const at::Tensor anchor_corrections = anchor_dense - anchor_sparse;
    const GroupCorrections corrections =
        CollectCorrections(DeltaLayout(prompt_len, config.lambda), start, anchor_corrections, extras.carry);
    out_sparse.add_(corrections.At(sparse_positions));
    if (extras.carry != nullptr && anchor_count > 0) {
      *extras.carry = DeltaCarry{plan.anchors.back(), anchor_corrections[anchor_count - 1].clone()};
    }
    if (extras.telemetry != nullptr) {
      RecordCosines(*extras.telemetry, &AttentionTelemetry::probe_delta, probe_sparse + corrections.At(plan.probes),
                    probe_dense);
    }
  }
  out.index_copy_(0, RowsOf(plan.dense, start, device), dense);

  if (extras.telemetry != nullptr) {
    RecordCosines(*extras.telemetry, &AttentionTelemetry::anchor_sparse, anchor_sparse, anchor_dense);
    RecordCosines(*extras.telemetry, &AttentionTelemetry::probe_sparse, probe_sparse, probe_dense);
  }
  if (extras.cost != nullptr) extras.cost->Add(cost);
  return out;
}

void ReadBackTelemetry(const std::vector<AttentionTelemetry*>& telemetries) {
  std::vector<at::Tensor> values;
  for (const AttentionTelemetry* telemetry : telemetries) {
    for (const AttentionTelemetry::Pending& pending : telemetry->pending) values.push_back(pending.values);
  }
  if (values.empty()) return;
  const at::Tensor host = at::cat(values).to(at::kCPU, at::kDouble).contiguous();
  const double* next = host.data_ptr<double>();
  for (AttentionTelemetry* telemetry : telemetries) {
    for (const AttentionTelemetry::Pending& pending : telemetry->pending) {
      std::vector<double>& into = telemetry->*pending.into;
      into.insert(into.end(), next, next + pending.values.numel());
      next += pending.values.numel();
    }
    telemetry->pending.clear();
  }
}

at::Tensor PrefillAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t start, int64_t prompt_len, const AttentionConfig& config,
                            const PrefillAttentionExtras& extras) {
  const HeadMajorKv kv = HeadMajorKv::From(k, v);
  return CombinePrefillAttention(
      q, start, q.size(0), prompt_len, config, extras,
      [&](const std::vector<int64_t>& positions, const KeyVisibility& visibility, int64_t* score_pairs) {
        return AttendPositions(q, start, positions, kv, visibility, score_pairs);
      });
}

}  // namespace deltaserve
