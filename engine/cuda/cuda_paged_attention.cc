#include "engine/cuda/cuda_paged_attention.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <utility>

#include "engine/attention/prefill_attention.h"
#include "engine/cuda/device_upload.h"
#include "engine/model/rope.h"
#include "engine/util/device_copy.h"
#include "kernels/attention.h"
#include "kernels/delta_combine.h"
#include "kernels/rope_kv_write.h"

namespace deltaserve {
namespace {

// The workspace a split-KV launch may take for its kernels::kMaxKeySplits splits: with
// fewer bytes it splits less, never fails.
constexpr size_t kMaxSplitWorkspaceBytes = size_t{256} << 20;

cudaStream_t CurrentStream() { return c10::cuda::getCurrentCUDAStream().stream(); }

void Check(cudaError_t error, const char* kernel, int64_t rows) {
  TORCH_CHECK(error == cudaSuccess, kernel, " kernel (", rows, " rows): ", cudaGetErrorString(error));
}

kernels::RowTensor Rows(const at::Tensor& rows) { return {rows.data_ptr(), rows.stride(0), rows.stride(1)}; }

kernels::PagedKvCache PagedView(const KvCache& cache, int64_t layer, const at::Tensor& block_tables) {
  const at::Tensor& keys = cache.keys(layer);
  kernels::PagedKvCache view;
  view.k = keys.data_ptr();
  view.v = cache.values(layer).data_ptr();
  view.num_blocks = static_cast<int>(keys.size(0));
  view.block_size = static_cast<int>(keys.size(1));
  view.num_kv_heads = static_cast<int>(keys.size(2));
  view.head_dim = static_cast<int>(keys.size(3));
  view.block_stride = keys.stride(0);
  view.token_stride = keys.stride(1);
  view.head_stride = keys.stride(2);
  view.block_tables = block_tables.data_ptr<int32_t>();
  view.max_blocks_per_seq = static_cast<int>(block_tables.size(1));
  return view;
}

kernels::AttentionMask MaskOf(const KeyVisibility& visibility) {
  if (visibility.window == KeyVisibility::Causal().window) return {};  // dense causal
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  return {static_cast<int>(std::min(visibility.sink, kIntMax)), static_cast<int>(std::min(visibility.window, kIntMax))};
}

// Consecutive positions, which one prefill launch covers.
bool IsRun(const std::vector<int64_t>& positions) {
  return positions.back() - positions.front() + 1 == static_cast<int64_t>(positions.size());
}

at::Tensor SplitWorkspace(int64_t rows, int64_t heads, int64_t head_dim, at::Device device) {
  const size_t bytes = std::min(kMaxSplitWorkspaceBytes,
                                kernels::GatheredAttentionWorkspaceBytes(static_cast<int>(rows), static_cast<int>(heads),
                                                                         static_cast<int>(head_dim), kernels::kMaxKeySplits));
  return at::empty({static_cast<int64_t>(bytes)}, at::TensorOptions(at::kByte).device(device));
}

}  // namespace

CudaPagedAttention::CudaPagedAttention(KvCache& cache, const ModelConfig& config, std::vector<int64_t> dense_layers)
    : cache_(cache),
      inv_freq_(RopeInverseFrequencies(config).to(cache.keys(0).device())),
      num_heads_(config.num_attention_heads),
      softmax_scale_(static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.head_dim)))),
      dense_layers_(std::move(dense_layers)),
      side_stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, cache.keys(0).device().index())) {}

bool CudaPagedAttention::IsDecode(const AttentionSequence& seq) {
  return seq.num_queries == 1 && seq.start_position >= seq.prompt_len;
}

void CudaPagedAttention::BeginForward(const AttentionBatch& batch) {
  const at::Device device = cache_.keys(0).device();
  const int64_t block_size = cache_.shape().block_size;
  step_ = Step{};
  step_.positions = CopyToDevice(batch.positions.to(at::kInt), device);
  step_.slots = CopyToDevice(batch.slots.to(at::kInt), device);
  std::vector<int32_t> seq_lens;
  std::vector<const AttentionSequence*> decoding;
  for (const AttentionSequence& seq : batch.sequences) {
    if (!IsDecode(seq)) {
      step_.prefill_block_tables.push_back(
          UploadInts(std::vector<int32_t>(seq.block_table.begin(), seq.block_table.end()), device).view({1, -1}));
      continue;
    }
    step_.prefill_block_tables.emplace_back();
    decoding.push_back(&seq);
    step_.decode_rows.push_back(seq.first_row);
    seq_lens.push_back(static_cast<int32_t>(seq.start_position + 1));
    step_.decode_max_seq_len = std::max(step_.decode_max_seq_len, seq_lens.back());
  }
  if (decoding.empty()) return;
  step_.decode_max_blocks = static_cast<int>((step_.decode_max_seq_len + block_size - 1) / block_size);
  std::vector<int32_t> tables(decoding.size() * step_.decode_max_blocks, 0);
  for (size_t i = 0; i < decoding.size(); ++i) {
    const absl::Span<const int32_t> table = decoding[i]->block_table;
    const size_t used = std::min<size_t>(table.size(), static_cast<size_t>(step_.decode_max_blocks));
    std::copy(table.begin(), table.begin() + used, tables.begin() + i * step_.decode_max_blocks);
  }
  step_.decode_seq_lens = UploadInts(seq_lens, device);
  step_.decode_block_tables = UploadInts(tables, device).view({static_cast<int64_t>(decoding.size()), -1});
  const std::vector<int64_t>& rows = step_.decode_rows;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i] != rows[0] + static_cast<int64_t>(i)) {
      step_.decode_row_index = CopyToDevice(at::tensor(rows, at::kLong), device);
      break;
    }
  }
}

void CudaPagedAttention::BindDecodeStep(const at::Tensor& positions, const at::Tensor& slots,
                                        const at::Tensor& seq_lens, const at::Tensor& block_tables, int max_seq_len) {
  step_ = Step{};
  step_.positions = positions;
  step_.slots = slots;
  step_.decode_rows.resize(static_cast<size_t>(seq_lens.size(0)));
  std::iota(step_.decode_rows.begin(), step_.decode_rows.end(), 0);
  step_.decode_seq_lens = seq_lens;
  step_.decode_block_tables = block_tables;
  step_.decode_max_blocks = static_cast<int>(block_tables.size(1));
  step_.decode_max_seq_len = max_seq_len;
  step_.prefill_block_tables.resize(step_.decode_rows.size());
}

void CudaPagedAttention::RopeAndStore(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                      const at::Tensor& v) const {
  const at::Tensor& keys = cache_.keys(layer);
  kernels::RopeKvWriteArgs args;
  args.q = Rows(q);
  args.k = Rows(k);
  args.v = Rows(v);
  args.num_tokens = static_cast<int>(q.size(0));
  args.num_heads = static_cast<int>(q.size(1));
  args.num_kv_heads = static_cast<int>(k.size(1));
  args.head_dim = static_cast<int>(q.size(2));
  args.positions = step_.positions.data_ptr<int32_t>();
  args.inv_freq = inv_freq_.data_ptr<float>();
  args.slot_mapping = step_.slots.data_ptr<int32_t>();
  args.k_cache = keys.data_ptr();
  args.v_cache = cache_.values(layer).data_ptr();
  args.block_size = static_cast<int>(keys.size(1));
  args.block_stride = keys.stride(0);
  args.token_stride = keys.stride(1);
  args.head_stride = keys.stride(2);
  Check(kernels::RopeKvWrite(args, CurrentStream()), "RopeKvWrite", q.size(0));
}

void CudaPagedAttention::Decode(int64_t layer, const at::Tensor& q, at::Tensor& out) const {
  const int64_t count = static_cast<int64_t>(step_.decode_rows.size());
  if (count == 0) return;
  const bool gathered = step_.decode_row_index.defined();
  const int64_t first = step_.decode_rows[0];
  const at::Tensor queries = gathered ? q.index_select(0, step_.decode_row_index) : q.slice(0, first, first + count);
  at::Tensor results = gathered ? at::empty_like(queries) : out.slice(0, first, first + count);
  const at::Tensor workspace = SplitWorkspace(count, num_heads_, q.size(2), q.device());
  kernels::DecodeAttentionArgs args;
  args.q = Rows(queries);
  args.out = Rows(results);
  args.num_heads = static_cast<int>(num_heads_);
  args.num_seqs = static_cast<int>(count);
  args.max_seq_len = step_.decode_max_seq_len;
  args.seq_lens = step_.decode_seq_lens.data_ptr<int32_t>();
  args.cache = PagedView(cache_, layer, step_.decode_block_tables);
  args.softmax_scale = softmax_scale_;
  Check(kernels::DecodeAttention(args, workspace.data_ptr(), static_cast<size_t>(workspace.numel()), CurrentStream()),
        "DecodeAttention", count);
  if (gathered) out.index_copy_(0, step_.decode_row_index, results);
}

void CudaPagedAttention::Prefill(int64_t layer, const at::Tensor& q, size_t seq_index, const AttentionSequence& seq,
                                 const at::Tensor& out) const {
  const at::Tensor queries = q.slice(0, seq.first_row, seq.first_row + seq.num_queries);
  const kernels::PagedKvCache paged = PagedView(cache_, layer, step_.prefill_block_tables[seq_index]);
  const int64_t start = seq.start_position;
  const AttentionConfig config = LayerAttentionConfig(seq, layer, dense_layers_);
  // A run of consecutive queries: one prefill launch on the current stream.
  auto attend_run = [&](const AttendRequest& request) {
    const std::vector<int64_t>& positions = *request.positions;
    const int64_t count = static_cast<int64_t>(positions.size());
    const int32_t first = static_cast<int32_t>(positions.front());
    const at::Tensor meta = UploadInts({0, static_cast<int32_t>(count), first}, q.device());
    kernels::PrefillAttentionArgs args;
    args.q = Rows(queries.slice(0, first - start));
    args.out = Rows(request.rows);
    args.num_heads = static_cast<int>(num_heads_);
    args.num_seqs = 1;
    args.max_seqlen_q = static_cast<int>(count);
    args.cu_seqlens_q = meta.data_ptr<int32_t>();
    args.start_pos = meta.data_ptr<int32_t>() + 2;
    args.cache = paged;
    args.mask = MaskOf(request.visibility);
    args.softmax_scale = softmax_scale_;
    Check(kernels::PrefillAttention(args, CurrentStream()), "PrefillAttention", count);
  };
  // Scattered queries (anchors, tail, probes): one split-KV gathered launch.
  auto attend_gathered = [&](const AttendRequest& request) {
    const std::vector<int64_t>& positions = *request.positions;
    const int64_t count = static_cast<int64_t>(positions.size());
    std::vector<int32_t> meta{0, static_cast<int32_t>(count)};
    for (int64_t position : positions) meta.push_back(static_cast<int32_t>(position - start));
    meta.insert(meta.end(), positions.begin(), positions.end());
    const at::Tensor uploaded = UploadInts(meta, q.device());
    const at::Tensor workspace = SplitWorkspace(count, num_heads_, queries.size(2), q.device());
    kernels::GatheredAttentionArgs args;
    args.q = Rows(queries);
    args.out = Rows(request.rows);
    args.num_heads = static_cast<int>(num_heads_);
    args.num_seqs = 1;
    args.num_rows = static_cast<int>(count);
    args.max_rows_per_seq = static_cast<int>(count);
    args.max_position = static_cast<int>(positions.back());
    args.cu_rows = uploaded.data_ptr<int32_t>();
    args.row_token = args.cu_rows + 2;
    args.row_pos = args.row_token + count;
    args.cache = paged;
    args.mask = MaskOf(request.visibility);
    args.softmax_scale = softmax_scale_;
    Check(kernels::GatheredAttention(args, workspace.data_ptr(), static_cast<size_t>(workspace.numel()),
                                     CurrentStream()),
          "GatheredAttention", count);
  };
  // The gathered launches run on side_stream_ beside the runs: a chunk's anchor rows are a
  // few dozen blocks that leave most SMs idle in their last wave unless sparse blocks fill
  // them. The side stream starts after everything queued so far (the queries, this layer's
  // cache writes, whatever last used the memory of the output rows) and takes its own
  // metadata and workspace from its own allocator pool; the current stream then waits for
  // it, so whatever follows sees the rows written.
  auto attend = [&](const std::vector<AttendRequest>& requests) {
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream();
    std::optional<at::cuda::CUDAEvent> side_done;
    for (const AttendRequest& request : requests) {
      if (request.positions->empty() || IsRun(*request.positions)) continue;
      if (!side_done.has_value()) {
        at::cuda::CUDAEvent inputs_ready;
        inputs_ready.record(current);
        inputs_ready.block(side_stream_);
        side_done.emplace();
      }
      const c10::cuda::CUDAStreamGuard on_side(side_stream_);
      attend_gathered(request);
    }
    for (const AttendRequest& request : requests) {
      if (!request.positions->empty() && IsRun(*request.positions)) attend_run(request);
    }
    if (side_done.has_value()) {
      side_done->record(side_stream_);
      side_done->block(current);
    }
  };
  auto combine_rows = [&](const at::Tensor& sparse, const at::Tensor& dense, const at::Tensor& carry,
                          const at::Tensor& rows) {
    kernels::DeltaCombineArgs args;
    args.sparse = sparse.data_ptr();
    args.sparse_row_stride = sparse.stride(0);
    args.dense = dense.data_ptr();
    args.dense_row_stride = dense.stride(0);
    args.out = rows.data_ptr();
    args.out_row_stride = rows.stride(0);
    args.row_elems = static_cast<int>(rows.size(1) * rows.size(2));
    args.plan = kernels::MakeDeltaChunkPlan(static_cast<int>(start), static_cast<int>(seq.num_queries),
                                            static_cast<int>(seq.prompt_len), static_cast<int>(config.lambda));
    args.mode = config.mode == AttentionMode::kDelta ? kernels::CorrectionMode::kDelta
                                                     : kernels::CorrectionMode::kRecompute;
    args.carry = carry.defined() ? carry.data_ptr() : nullptr;
    Check(kernels::DeltaCombine(args, CurrentStream()), "DeltaCombine", seq.num_queries);
  };
  CombinePrefillAttention(out, start, seq.prompt_len, config, LayerExtras(seq, layer), attend, combine_rows);
}

at::Tensor CudaPagedAttention::Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                       const AttentionBatch& batch) {
  RopeAndStore(layer, q, k, v);
  at::Tensor out = at::empty({q.size(0), q.size(1), q.size(2)}, q.options());
  Decode(layer, q, out);
  for (size_t i = 0; i < batch.sequences.size(); ++i) {
    const AttentionSequence& seq = batch.sequences[i];
    if (IsDecode(seq)) continue;
    std::optional<PendingTiming> timing;
    if (seq.measurements != nullptr) {
      timing.emplace(PendingTiming{seq.measurements, at::cuda::CUDAEvent(cudaEventDefault),
                                   at::cuda::CUDAEvent(cudaEventDefault)});
      timing->start.record();
    }
    Prefill(layer, q, i, seq, out.slice(0, seq.first_row, seq.first_row + seq.num_queries));
    if (timing.has_value()) {
      timing->end.record();
      timings_.push_back(std::move(*timing));
    }
  }
  return out;
}

void CudaPagedAttention::EndForward() {
  // Taken out first: a failing sync must not leave pointers into measurements that the
  // runner frees once this returns.
  const std::vector<PendingTiming> timings = std::exchange(timings_, {});
  std::vector<PrefillMeasurements*> measured;
  for (const PendingTiming& timing : timings) {
    timing.end.synchronize();
    timing.measurements->attention_seconds += timing.start.elapsed_time(timing.end) / 1000.0;
    if (std::find(measured.begin(), measured.end(), timing.measurements) == measured.end()) {
      measured.push_back(timing.measurements);
    }
  }
  std::vector<AttentionTelemetry*> telemetry;
  for (PrefillMeasurements* measurements : measured) {
    for (AttentionTelemetry& layer : measurements->layers) telemetry.push_back(&layer);
  }
  ReadBackTelemetry(telemetry);
}

}  // namespace deltaserve
