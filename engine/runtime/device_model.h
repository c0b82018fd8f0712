#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "engine/cache/kv_cache.h"
#include "engine/model/attention_backend.h"
#include "engine/model/llama_model.h"
#include "engine/model/llama_weights.h"
#include "engine/model/model_config.h"
#include "engine/runtime/engine_config.h"

namespace deltaserve {

// Forward passes recorded once and replayed (CUDA graphs of decode steps), which skip the
// host's per-kernel launch work.
class ForwardReplay {
 public:
  virtual ~ForwardReplay() = default;
  // The logits (as LlamaModel::Forward returns them) of a batch it has a recording for,
  // valid until the next replay; nullopt for any other, which then runs eagerly.
  virtual std::optional<at::Tensor> TryReplay(const ForwardBatch& batch) = 0;
};

// A point in the device's queue of work (a CUDA event), which the host can wait for while
// later work is already queued behind it.
class DeviceMark {
 public:
  virtual ~DeviceMark() = default;
  virtual void Wait() = 0;
};

// The model on one device: its weights there, the paged KV cache sized for that device
// and the attention backend over that cache.
struct DeviceModel {
  std::unique_ptr<LlamaModel> model;
  std::unique_ptr<KvCache> cache;
  std::unique_ptr<AttentionBackend> attention;
  std::unique_ptr<ForwardReplay> replay;  // null: every pass runs eagerly
  // Marks the work queued so far on the current stream; null on a device that completes
  // each op as it is called (the CPU), where there is nothing to wait for.
  std::function<std::unique_ptr<DeviceMark>()> mark_queue;
};

// What the engine computes in on a device: weights, activations and the KV cache.
// float32 on the CPU (the reference), bf16 on CUDA.
at::ScalarType DeviceDtype(ComputeDevice device);

// float32 on the host; the cache takes config.kv_cache_bytes (0: 1 GiB).
absl::StatusOr<DeviceModel> BuildCpuModel(const ModelConfig& model_config, LlamaWeights weights,
                                          const EngineConfig& config);

// bf16 on the current CUDA device (engine/cuda). A build without -DDELTASERVE_CUDA=ON
// answers FAILED_PRECONDITION naming that option.
absl::StatusOr<DeviceModel> BuildCudaModel(const ModelConfig& model_config, LlamaWeights weights,
                                           const EngineConfig& config);

// Blocks of config.block_size tokens that `bytes` of cache in `dtype` hold for the model;
// RESOURCE_EXHAUSTED (naming the sizes and `budget`, e.g. the flag that set it) when none.
absl::StatusOr<KvCacheShape> KvCacheShapeFor(const ModelConfig& model_config, const EngineConfig& config,
                                             int64_t bytes, at::ScalarType dtype, const char* budget);

}  // namespace deltaserve
