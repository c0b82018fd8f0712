#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAGraph.h>

#include "engine/cuda/cuda_paged_attention.h"
#include "engine/runtime/device_model.h"

namespace deltaserve {

// CUDA graphs of decode steps, one per batch size bucket up to max_num_seqs: a step of
// n decoding sequences replays the smallest bucket >= n, its extra rows writing no
// cache and their logits dropped. Replay takes the host out of the ~10 launches per
// layer, which otherwise dominate a decode step of a small batch.
class DecodeGraphs final : public ForwardReplay {
 public:
  // Captures every bucket now (the model and cache must not move afterwards).
  DecodeGraphs(const LlamaModel& model, CudaPagedAttention& attention, int64_t max_num_seqs, int64_t max_model_len,
               int64_t block_size);

  std::optional<at::Tensor> TryReplay(const ForwardBatch& batch) override;

 private:
  struct Graph {
    std::unique_ptr<at::cuda::CUDAGraph> graph;
    at::Tensor logits;  // [bucket, vocab] on the device, written by every replay
  };

  void Capture(int64_t bucket);

  const LlamaModel& model_;
  CudaPagedAttention& attention_;
  int max_seq_len_;
  // Static inputs, sliced to a bucket's first rows: [max_num_seqs] and [max_num_seqs, blocks].
  at::Tensor token_ids_;  // int64
  at::Tensor metadata_;   // int32 [3, max_num_seqs]: positions, slots, seq_lens
  at::Tensor block_tables_;
  at::Tensor logit_rows_;  // arange, int64
  std::map<int64_t, Graph> graphs_;  // by bucket
};

}  // namespace deltaserve
