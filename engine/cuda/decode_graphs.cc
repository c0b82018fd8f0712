#include "engine/cuda/decode_graphs.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <vector>

namespace deltaserve {
namespace {

// vLLM's choice: small batches exactly, then every multiple of 8, then the maximum.
std::vector<int64_t> Buckets(int64_t max_num_seqs) {
  std::vector<int64_t> buckets;
  for (int64_t size : {1, 2, 4}) {
    if (size < max_num_seqs) buckets.push_back(size);
  }
  for (int64_t size = 8; size < max_num_seqs; size += 8) buckets.push_back(size);
  buckets.push_back(max_num_seqs);
  return buckets;
}

// Decode rows only, sequence i on row i: the layout the graphs were captured with.
bool IsDecodeStep(const ForwardBatch& batch) {
  for (size_t i = 0; i < batch.attention.sequences.size(); ++i) {
    const AttentionSequence& seq = batch.attention.sequences[i];
    if (!CudaPagedAttention::IsDecode(seq) || seq.first_row != static_cast<int64_t>(i)) return false;
  }
  return !batch.attention.sequences.empty();
}

at::Tensor Pinned(std::vector<int64_t> sizes, at::ScalarType dtype) {
  return at::empty(sizes, at::TensorOptions(dtype).pinned_memory(true));
}

at::Tensor PinnedCopy(const at::Tensor& host) {
  at::Tensor pinned = Pinned(host.sizes().vec(), host.scalar_type());
  pinned.copy_(host);
  return pinned;
}

}  // namespace

DecodeGraphs::DecodeGraphs(const LlamaModel& model, CudaPagedAttention& attention, int64_t max_num_seqs,
                           int64_t max_model_len, int64_t block_size)
    : model_(model), attention_(attention), max_seq_len_(static_cast<int>(max_model_len)) {
  const at::TensorOptions on_device = at::TensorOptions().device(model.device());
  token_ids_ = at::zeros({max_num_seqs}, on_device.dtype(at::kLong));
  // Rows that no sequence fills write no cache (slot -1) and attend to one key.
  metadata_ = at::stack({at::zeros({max_num_seqs}, on_device.dtype(at::kInt)),
                         at::full({max_num_seqs}, -1, on_device.dtype(at::kInt)),
                         at::ones({max_num_seqs}, on_device.dtype(at::kInt))});
  block_tables_ = at::zeros({max_num_seqs, (max_model_len + block_size - 1) / block_size}, on_device.dtype(at::kInt));
  logit_rows_ = at::arange(max_num_seqs, on_device.dtype(at::kLong));
  std::vector<int64_t> buckets = Buckets(max_num_seqs);
  // The largest first: the smaller graphs then fit in the memory pool it grew.
  std::reverse(buckets.begin(), buckets.end());
  for (int64_t bucket : buckets) Capture(bucket);
}

void DecodeGraphs::Capture(int64_t bucket) {
  AttentionBatch batch;
  for (int64_t row = 0; row < bucket; ++row) {
    batch.sequences.push_back(AttentionSequence{row, 1, /*start_position=*/1, /*prompt_len=*/0, {}, AttentionConfig{}});
  }
  auto forward = [&] {
    attention_.BindDecodeStep(metadata_[0].slice(0, 0, bucket), metadata_[1].slice(0, 0, bucket),
                              metadata_[2].slice(0, 0, bucket), block_tables_.slice(0, 0, bucket), max_seq_len_);
    return model_.ForwardOnDevice(token_ids_.slice(0, 0, bucket), logit_rows_.slice(0, 0, bucket), batch, attention_);
  };
  Graph captured{std::make_unique<at::cuda::CUDAGraph>(), at::Tensor()};
  {
    // Graphs are captured on a side stream; the warm-up lets cuBLAS choose its kernels
    // and workspaces outside the capture.
    c10::cuda::CUDAStreamGuard guard(c10::cuda::getStreamFromPool());
    forward();
    if (graphs_.empty()) {
      captured.graph->capture_begin();
    } else {
      captured.graph->capture_begin(graphs_.begin()->second.graph->pool());
    }
    captured.logits = forward();
    captured.graph->capture_end();
  }
  c10::cuda::device_synchronize();
  graphs_.emplace(bucket, std::move(captured));
}

std::optional<at::Tensor> DecodeGraphs::TryReplay(const ForwardBatch& batch) {
  const int64_t count = static_cast<int64_t>(batch.attention.sequences.size());
  const auto found = graphs_.lower_bound(count);
  if (found == graphs_.end() || !IsDecodeStep(batch)) return std::nullopt;
  const int64_t bucket = found->first;
  // Only the columns some row uses go up: the graph's table is max_model_len wide (2 MB
  // at 128K for 64 rows), and a row's kernel never reads past its own length.
  int64_t width = 1;
  for (const AttentionSequence& seq : batch.attention.sequences) {
    width = std::max<int64_t>(width, static_cast<int64_t>(seq.block_table.size()));
  }
  width = std::min(width, block_tables_.size(1));

  at::Tensor metadata = Pinned({3, metadata_.size(1)}, at::kInt);
  at::Tensor tables = Pinned({bucket, width}, at::kInt);
  metadata[0].zero_();
  metadata[1].fill_(-1);
  metadata[2].fill_(1);
  tables.zero_();
  const int64_t* positions = batch.attention.positions.data_ptr<int64_t>();
  const int64_t* slots = batch.attention.slots.data_ptr<int64_t>();
  int32_t* meta = metadata.data_ptr<int32_t>();
  const int64_t stride = metadata.stride(0);
  for (int64_t row = 0; row < count; ++row) {
    const AttentionSequence& seq = batch.attention.sequences[row];
    meta[row] = static_cast<int32_t>(positions[row]);
    meta[stride + row] = static_cast<int32_t>(slots[row]);
    meta[2 * stride + row] = static_cast<int32_t>(seq.start_position + 1);
    const int64_t used = std::min<int64_t>(width, static_cast<int64_t>(seq.block_table.size()));
    std::copy(seq.block_table.begin(), seq.block_table.begin() + used, tables.data_ptr<int32_t>() + row * width);
  }
  // Rows past count keep earlier ids, which are in the vocabulary; their slot is -1. The
  // ids of a pass launched ahead are on the device already (ModelRunner::LaunchAhead); ids
  // from the host go through page-locked memory, since a pageable copy would wait for the
  // device.
  token_ids_.slice(0, 0, count).copy_(batch.token_ids.is_cuda() ? batch.token_ids : PinnedCopy(batch.token_ids),
                                      /*non_blocking=*/true);
  metadata_.copy_(metadata, /*non_blocking=*/true);
  block_tables_.slice(0, 0, bucket).slice(1, 0, width).copy_(tables, /*non_blocking=*/true);
  found->second.graph->replay();
  return found->second.logits.slice(0, 0, count);
}

}  // namespace deltaserve
