#include "engine/attention/prefill_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "engine/attention/delta_layout.h"
#include "engine/attention/key_visibility.h"
#include "engine/util/device_copy.h"

namespace deltaserve {
namespace {

std::vector<int64_t> Positions(int64_t begin, int64_t end) {
  std::vector<int64_t> positions(static_cast<size_t>(std::max<int64_t>(0, end - begin)));
  std::iota(positions.begin(), positions.end(), begin);
  return positions;
}

at::Tensor IndexTensor(const std::vector<int64_t>& values, at::Device device) {
  return CopyToDevice(at::tensor(values, at::kLong), device);
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
  std::vector<int64_t> dense;    // rows computed dense: anchors, then the rest (kernels/delta_plan.h's order)
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
  at::Tensor values;   // [groups, H, d]
  at::Tensor carried;  // [H, d], the carry's correction when the first group's anchor lies in an earlier chunk

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
  GroupCorrections corrections{layout.lambda(), layout.GroupOf(start), anchor_corrections, {}};
  if (first_anchor == start) return corrections;
  TORCH_CHECK(carry != nullptr && carry->anchor == first_anchor, "delta attention: the chunk starting at position ",
              start, " needs the correction of anchor ", first_anchor,
              " from the previous chunk of this sequence and layer (pass the DeltaCarry it filled)");
  corrections.values = at::cat({carry->correction.unsqueeze(0), anchor_corrections});
  corrections.carried = carry->correction.contiguous();
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

void CombinePrefillAttention(const at::Tensor& out, int64_t start, int64_t prompt_len, const AttentionConfig& config,
                             const PrefillAttentionExtras& extras, const AttendPositionsFn& attend,
                             const CombineRowsFn& combine_rows) {
  const int64_t num_queries = out.size(0);
  const QueryPlan plan = PlanQueries(start, start + num_queries, prompt_len, config);
  const int64_t sparse_count = plan.sparse_end - start;
  const int64_t anchor_count = static_cast<int64_t>(plan.anchors.size());
  // A chunk with anchors finds every correction it needs in itself or the carry.
  const bool one_pass = combine_rows != nullptr && anchor_count > 0;
  auto rows_like_out = [&](size_t count) {
    return at::empty({static_cast<int64_t>(count), out.size(1), out.size(2)}, out.options());
  };

  const at::Tensor out_sparse = out.slice(0, 0, sparse_count);
  // The one-pass combine reads anchor rows of `sparse` while it writes `out`.
  const at::Tensor sparse = one_pass ? at::empty_like(out_sparse) : out_sparse;
  // The dense rows are one run of `out`, the tail, unless anchors come first.
  const at::Tensor dense = anchor_count == 0 ? out.slice(0, sparse_count) : rows_like_out(plan.dense.size());
  const at::Tensor probe_dense = rows_like_out(plan.probes.size());
  AttentionCost cost;
  const std::vector<int64_t> sparse_positions = Positions(start, plan.sparse_end);
  attend({{&sparse_positions, KeyVisibility::SinkAndWindow(config.sink, config.window), sparse, &cost.sparse_score_pairs},
          {&plan.dense, KeyVisibility::Causal(), dense, &cost.dense_score_pairs},
          {&plan.probes, KeyVisibility::Causal(), probe_dense, &cost.dense_score_pairs}});
  cost.sparse_queries = sparse_count;
  cost.dense_queries = static_cast<int64_t>(plan.dense.size() + plan.probes.size());

  // Gathered before the ATen combine corrects `sparse` in place.
  const at::Device device = out.device();
  const at::Tensor anchor_sparse = sparse.index_select(0, RowsOf(plan.anchors, start, device));
  const at::Tensor anchor_dense = dense.slice(0, 0, anchor_count);
  const at::Tensor probe_sparse = sparse.index_select(0, RowsOf(plan.probes, start, device));

  at::Tensor carried;  // read before this chunk replaces the carry with its own
  if (config.mode == AttentionMode::kDelta && sparse_count > 0) {
    const at::Tensor anchor_corrections = anchor_dense - anchor_sparse;
    const GroupCorrections corrections =
        CollectCorrections(DeltaLayout(prompt_len, config.lambda), start, anchor_corrections, extras.carry);
    carried = corrections.carried;
    if (!one_pass) out_sparse.add_(corrections.At(sparse_positions));
    if (extras.carry != nullptr && anchor_count > 0) {
      *extras.carry = DeltaCarry{plan.anchors.back(), anchor_corrections[anchor_count - 1].clone()};
    }
    if (extras.telemetry != nullptr) {
      RecordCosines(*extras.telemetry, &AttentionTelemetry::probe_delta, probe_sparse + corrections.At(plan.probes),
                    probe_dense);
    }
  }
  if (one_pass) {
    combine_rows(sparse, dense, carried, out);
  } else if (anchor_count > 0) {
    out.index_copy_(0, RowsOf(plan.dense, start, device), dense);
  }

  if (extras.telemetry != nullptr) {
    RecordCosines(*extras.telemetry, &AttentionTelemetry::anchor_sparse, anchor_sparse, anchor_dense);
    RecordCosines(*extras.telemetry, &AttentionTelemetry::probe_sparse, probe_sparse, probe_dense);
  }
  if (extras.cost != nullptr) extras.cost->Add(cost);
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

AttendPositionsFn TiledAttender(const at::Tensor& q, int64_t start, const HeadMajorKv& kv) {
  return [&q, start, &kv](const std::vector<AttendRequest>& requests) {
    for (const AttendRequest& r : requests) {
      r.rows.copy_(AttendPositions(q, start, *r.positions, kv, r.visibility, r.score_pairs));
    }
  };
}

at::Tensor PrefillAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t start, int64_t prompt_len, const AttentionConfig& config,
                            const PrefillAttentionExtras& extras) {
  const HeadMajorKv kv = HeadMajorKv::From(k, v);
  at::Tensor out = at::empty({q.size(0), q.size(1), q.size(2)}, q.options());
  CombinePrefillAttention(out, start, prompt_len, config, extras, TiledAttender(q, start, kv));
  return out;
}

}  // namespace deltaserve
