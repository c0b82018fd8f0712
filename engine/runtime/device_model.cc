#include "engine/runtime/device_model.h"

#include <ATen/ATen.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace deltaserve {

at::ScalarType DeviceDtype(ComputeDevice device) {
  return device == ComputeDevice::kCuda ? at::kBFloat16 : at::kFloat;
}

absl::StatusOr<KvCacheShape> KvCacheShapeFor(const ModelConfig& model_config, const EngineConfig& config,
                                             int64_t bytes, at::ScalarType dtype, const char* budget) {
  KvCacheShape shape{model_config.num_hidden_layers, 0, config.block_size, model_config.num_key_value_heads,
                     model_config.head_dim};
  const int64_t bytes_per_block = KvCache::BytesPerBlock(shape, dtype);
  shape.num_blocks = bytes / bytes_per_block;
  if (shape.num_blocks < 1) {
    return absl::ResourceExhaustedError(absl::StrCat(budget, ": ", bytes, " bytes hold no KV-cache block; one block of ",
                                                     config.block_size, " tokens takes ", bytes_per_block, " bytes"));
  }
  return shape;
}

absl::StatusOr<DeviceModel> BuildCpuModel(const ModelConfig& model_config, LlamaWeights weights,
                                          const EngineConfig& config) {
  const int64_t bytes = config.kv_cache_bytes > 0 ? config.kv_cache_bytes : int64_t{1} << 30;
  const at::ScalarType dtype = DeviceDtype(ComputeDevice::kCpu);
  absl::StatusOr<KvCacheShape> shape = KvCacheShapeFor(model_config, config, bytes, dtype, "kv_cache_bytes");
  if (!shape.ok()) return shape.status();
  DeviceModel device_model;
  try {
    device_model.model = std::make_unique<LlamaModel>(model_config, std::move(weights));
    device_model.cache = std::make_unique<KvCache>(*shape, at::TensorOptions(dtype));
  } catch (const c10::Error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("creating the engine (KV cache of ", shape->num_blocks,
                                                     " blocks, ", bytes, " bytes): ", e.what_without_backtrace()));
  }
  device_model.attention =
      std::make_unique<CpuPagedAttention>(*device_model.cache, model_config, config.dense_layers);
  return device_model;
}

}  // namespace deltaserve
