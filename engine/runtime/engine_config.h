#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace deltaserve {

enum class ComputeDevice { kCpu, kCuda };

// "cpu" or "cuda"; INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<ComputeDevice> ParseComputeDevice(const std::string& name, const std::string& field);

// INVALID_ARGUMENT naming `field` unless 0 < utilization <= 1.
absl::Status ValidateGpuMemoryUtilization(double utilization, const std::string& field);

struct EngineConfig {
  int64_t max_num_seqs = 64;
  int64_t max_num_batched_tokens = 2048;
  int64_t max_model_len = 0;  // 0: the model's max_position_embeddings
  int64_t block_size = 16;
  ComputeDevice device = ComputeDevice::kCpu;
  // Memory for the paged KV cache; 0 sizes it from the device: 1 GiB on the CPU, on CUDA
  // what gpu_memory_utilization of the card leaves after the weights and a forward pass
  // of max_num_batched_tokens.
  int64_t kv_cache_bytes = 0;
  double gpu_memory_utilization = 0.9;
  // CUDA: run decode steps eagerly instead of replaying captured CUDA graphs.
  bool enforce_eager = false;
  int32_t max_logprobs = 20;
  // CPU threads for the forward pass; 0: every core. libtorch's own default is one per
  // physical core as it counts them, which some virtual machines report as one.
  int32_t num_threads = 0;
  // Layers whose prefill is always dense (DESIGN.md: dense_layers).
  std::vector<int64_t> dense_layers;
};

}  // namespace deltaserve
