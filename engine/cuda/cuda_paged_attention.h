#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include "engine/cache/kv_cache.h"
#include "engine/model/attention_backend.h"
#include "engine/model/model_config.h"

namespace deltaserve {

// Attention over a bf16 paged KV cache on the GPU with our kernels: RoPE fused with the
// cache write, one split-KV decode launch for every decoding sequence of the step, and per
// prefill chunk the sparse (sink + window) and dense (anchors, tail, probes) launches that
// CombinePrefillAttention asks for, so delta, recompute, carries and telemetry are the
// CPU path's own logic. A delta or recompute chunk with anchors then combines in one
// kernels::DeltaCombine pass written straight into the layer output, on or off the anchor
// grid (a delta chunk off it hands the kernel the carried correction).
class CudaPagedAttention : public AttentionBackend {
 public:
  CudaPagedAttention(KvCache& cache, const ModelConfig& config, std::vector<int64_t> dense_layers);

  // A decoding sequence: one query after its prompt, served by the split-KV decode launch.
  static bool IsDecode(const AttentionSequence& seq);

  void BeginForward(const AttentionBatch& batch) override;
  // Instead of BeginForward, for a CUDA graph: the next passes are decode steps whose
  // metadata lives in these device buffers (rows 0..n-1, one per sequence), read at every
  // replay. positions, slots and seq_lens [n] int32 (slot < 0: the row writes no cache),
  // block_tables [n, blocks] int32; max_seq_len bounds every seq_len.
  void BindDecodeStep(const at::Tensor& positions, const at::Tensor& slots, const at::Tensor& seq_lens,
                      const at::Tensor& block_tables, int max_seq_len);
  at::Tensor Forward(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionBatch& batch) override;
  void EndForward() override;

 private:
  // The step's metadata on the device, uploaded once for all layers.
  struct Step {
    at::Tensor positions;  // [T] int32
    at::Tensor slots;      // [T] int32
    // Decoding sequences: one query each, dense over all their keys.
    std::vector<int64_t> decode_rows;
    at::Tensor decode_row_index;     // [n] int64 on the device; undefined when the rows are consecutive
    at::Tensor decode_seq_lens;      // [n] int32
    at::Tensor decode_block_tables;  // [n, decode_max_blocks] int32
    int decode_max_blocks = 0;
    int decode_max_seq_len = 0;
    // Per sequence of the batch (undefined for decoding ones): its block table, [1, blocks] int32.
    std::vector<at::Tensor> prefill_block_tables;
  };
  // A prefill chunk's attention time in one layer, read once the step is done.
  struct PendingTiming {
    PrefillMeasurements* measurements;
    at::cuda::CUDAEvent start;
    at::cuda::CUDAEvent end;
  };

  void RopeAndStore(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) const;
  void Decode(int64_t layer, const at::Tensor& q, at::Tensor& out) const;
  // Writes the chunk's attention into `out`, its rows of the layer output.
  void Prefill(int64_t layer, const at::Tensor& q, size_t seq_index, const AttentionSequence& seq,
               const at::Tensor& out) const;

  KvCache& cache_;
  at::Tensor inv_freq_;  // [d / 2] float32 on the device
  int64_t num_heads_;
  float softmax_scale_;
  std::vector<int64_t> dense_layers_;
  Step step_;
  std::vector<PendingTiming> timings_;
  // A prefill chunk's gathered launches (anchor, tail and probe rows) run here, beside its
  // sparse or dense run on the current stream.
  c10::cuda::CUDAStream side_stream_;
};

}  // namespace deltaserve
