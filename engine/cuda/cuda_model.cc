// BuildCudaModel: the model in bf16 on the current CUDA device, and a paged KV cache
// sized from what the card has left.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>

#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/cuda/cuda_layer_kernels.h"
#include "engine/cuda/cuda_paged_attention.h"
#include "engine/cuda/decode_graphs.h"
#include "engine/runtime/device_model.h"
#include "engine/util/status_macros.h"

namespace deltaserve {
namespace {

std::string GiB(int64_t bytes) { return absl::StrFormat("%.2f GiB", static_cast<double>(bytes) / (1 << 30)); }

struct DeviceMemory {
  int64_t free = 0;
  int64_t total = 0;
};

absl::StatusOr<DeviceMemory> QueryDeviceMemory() {
  size_t free = 0;
  size_t total = 0;
  const cudaError_t error = cudaMemGetInfo(&free, &total);
  if (error != cudaSuccess) {
    return absl::FailedPreconditionError(absl::StrCat("device cuda: cannot read the GPU's memory: ",
                                                      cudaGetErrorString(error)));
  }
  return DeviceMemory{static_cast<int64_t>(free), static_cast<int64_t>(total)};
}

// What our kernels serve (kernels/attention.h, rms_norm.h, silu_mul.h).
absl::Status CheckKernelsServe(const ModelConfig& config) {
  if (config.head_dim != 64 && config.head_dim != 128) {
    return absl::InvalidArgumentError(absl::StrCat("device cuda: head_dim ", config.head_dim,
                                                   " is not served by the CUDA kernels (64 or 128); use --device cpu"));
  }
  if (config.hidden_size % 8 != 0 || config.intermediate_size % 8 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("device cuda: hidden_size ", config.hidden_size,
                                                   " and intermediate_size ", config.intermediate_size,
                                                   " must be multiples of 8 for the CUDA kernels; use --device cpu"));
  }
  return absl::OkStatus();
}

int64_t WeightBytes(const LlamaWeights& weights) {
  auto bytes = [](const at::Tensor& t) { return t.defined() ? t.numel() * 2 : 0; };  // in bf16
  int64_t total = bytes(weights.embed_tokens) + bytes(weights.norm);
  if (!weights.lm_head.is_same(weights.embed_tokens)) total += bytes(weights.lm_head);
  for (const LlamaLayerWeights& w : weights.layers) {
    for (const at::Tensor* t : {&w.input_layernorm, &w.q_proj, &w.k_proj, &w.v_proj, &w.o_proj,
                                &w.post_attention_layernorm, &w.gate_proj, &w.up_proj, &w.down_proj}) {
      total += bytes(*t);
    }
  }
  return total;
}

// One dense prefill of max_num_batched_tokens tokens (the largest step the scheduler
// makes) over a scratch cache: the memory that activations take, which the KV cache
// must leave free. Returns the bytes the pass took beyond the scratch cache.
absl::StatusOr<int64_t> ProfileForwardBytes(const LlamaModel& model, const ModelConfig& model_config,
                                            const EngineConfig& config, at::TensorOptions placement) {
  const int64_t tokens = std::min(config.max_num_batched_tokens, config.max_model_len);
  KvCacheShape shape{model_config.num_hidden_layers, (tokens + config.block_size - 1) / config.block_size,
                     config.block_size, model_config.num_key_value_heads, model_config.head_dim};
  c10::cuda::CUDACachingAllocator::emptyCache();
  DS_ASSIGN_OR_RETURN(const DeviceMemory before, QueryDeviceMemory());
  {
    KvCache scratch(shape, placement);
    CudaPagedAttention attention(scratch, model_config, {});
    std::vector<int32_t> block_table(static_cast<size_t>(shape.num_blocks));
    std::iota(block_table.begin(), block_table.end(), 0);
    ForwardBatch batch;
    batch.token_ids = at::zeros({tokens}, at::kLong);
    batch.attention.positions = at::arange(tokens, at::kLong);
    batch.attention.slots = batch.attention.positions;
    batch.attention.sequences.push_back(AttentionSequence{0, tokens, 0, tokens, block_table, AttentionConfig{}});
    batch.logit_rows = at::arange(tokens - std::min(tokens, config.max_num_seqs), tokens, at::kLong);
    model.Forward(batch, attention);
    attention.EndForward();
  }
  DS_ASSIGN_OR_RETURN(const DeviceMemory after, QueryDeviceMemory());
  c10::cuda::CUDACachingAllocator::emptyCache();
  const int64_t scratch_bytes = KvCache::BytesPerBlock(shape, DeviceDtype(ComputeDevice::kCuda)) * shape.num_blocks;
  return before.free - after.free - scratch_bytes;
}

class CudaEventMark : public DeviceMark {
 public:
  CudaEventMark() { event_.record(); }
  void Wait() override { event_.synchronize(); }

 private:
  at::cuda::CUDAEvent event_;
};

absl::StatusOr<int64_t> KvCacheBudget(const LlamaModel& model, const ModelConfig& model_config,
                                      const EngineConfig& config, at::TensorOptions placement) {
  if (config.kv_cache_bytes > 0) return config.kv_cache_bytes;
  DS_ASSIGN_OR_RETURN(const int64_t activations, ProfileForwardBytes(model, model_config, config, placement));
  DS_ASSIGN_OR_RETURN(const DeviceMemory memory, QueryDeviceMemory());
  const int64_t allowed = static_cast<int64_t>(config.gpu_memory_utilization * static_cast<double>(memory.total));
  const int64_t in_use = memory.total - memory.free;
  const int64_t budget = allowed - in_use - activations;
  if (budget <= 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "device cuda: no memory left for the KV cache: --gpu-memory-utilization ", config.gpu_memory_utilization,
        " of ", GiB(memory.total), " allows ", GiB(allowed), "; in use ", GiB(in_use),
        " (weights and other processes), a forward pass of ", config.max_num_batched_tokens, " tokens needs ",
        GiB(activations), ". Raise --gpu-memory-utilization or lower --max-num-batched-tokens"));
  }
  return budget;
}

}  // namespace

absl::StatusOr<DeviceModel> BuildCudaModel(const ModelConfig& model_config, LlamaWeights weights,
                                           const EngineConfig& engine_config) {
  EngineConfig config = engine_config;
  if (config.max_model_len <= 0) config.max_model_len = model_config.max_position_embeddings;
  if (!at::hasCUDA() || c10::cuda::device_count() == 0) {
    return absl::FailedPreconditionError("device cuda: no CUDA device is visible to this process");
  }
  DS_RETURN_IF_ERROR(CheckKernelsServe(model_config));
  const at::TensorOptions placement = at::TensorOptions(DeviceDtype(ComputeDevice::kCuda))
                                          .device(at::Device(at::kCUDA, c10::cuda::current_device()));
  DS_ASSIGN_OR_RETURN(const DeviceMemory memory, QueryDeviceMemory());
  const int64_t weight_bytes = WeightBytes(weights);
  if (weight_bytes > memory.free) {
    return absl::ResourceExhaustedError(absl::StrCat("device cuda: the weights take ", GiB(weight_bytes),
                                                     " in bf16, the GPU has ", GiB(memory.free), " free of ",
                                                     GiB(memory.total)));
  }
  DeviceModel device_model;
  try {
    device_model.model = std::make_unique<LlamaModel>(
        model_config, std::move(weights), placement, std::make_unique<CudaLayerKernels>(model_config.rms_norm_eps));
    DS_ASSIGN_OR_RETURN(const int64_t budget, KvCacheBudget(*device_model.model, model_config, config, placement));
    DS_ASSIGN_OR_RETURN(const KvCacheShape shape,
                        KvCacheShapeFor(model_config, config, budget, DeviceDtype(ComputeDevice::kCuda),
                                        config.kv_cache_bytes > 0 ? "kv_cache_bytes" : "gpu_memory_utilization"));
    device_model.cache = std::make_unique<KvCache>(shape, placement);
  } catch (const c10::Error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("device cuda: placing the model (", GiB(weight_bytes),
                                                     " of weights; the GPU had ", GiB(memory.free), " free of ",
                                                     GiB(memory.total), "): ", e.what_without_backtrace()));
  }
  auto attention = std::make_unique<CudaPagedAttention>(*device_model.cache, model_config, config.dense_layers);
  if (!config.enforce_eager) {
    try {
      device_model.replay = std::make_unique<DecodeGraphs>(*device_model.model, *attention, config.max_num_seqs,
                                                           config.max_model_len, config.block_size);
    } catch (const c10::Error& e) {
      return absl::ResourceExhaustedError(absl::StrCat("device cuda: capturing the decode CUDA graphs (up to ",
                                                       config.max_num_seqs, " sequences): ", e.what_without_backtrace(),
                                                       " (--enforce-eager runs without them)"));
    }
  }
  device_model.attention = std::move(attention);
  device_model.mark_queue = [] { return std::make_unique<CudaEventMark>(); };
  return device_model;
}

}  // namespace deltaserve
