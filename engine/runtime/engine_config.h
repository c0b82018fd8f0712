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

// Kineto traces of the engine's steps that carry prompt tokens, or of its decode steps
// (StepProfiler, docs/benchmarks.md "Tracing the engine's steps"), for GPU time
// breakdowns.
struct TorchProfileConfig {
  std::string dir;  // empty: off
  int64_t first_step = 0;
  int64_t steps = 8;
  bool decode = false;  // trace decode steps (CUDA-graph replays included) instead
};

// How validation messages name the fields: EngineConfig's (torch_profile.dir) or the
// server's flags (--torch-profile-dir).
enum class FieldNames { kConfig, kFlags };

// INVALID_ARGUMENT naming the field, its value and the limit unless both counts are >= 0
// and a set dir is a writable directory: checked at start-up, since a trace that cannot
// be written is found out only when the step it was meant for has run.
absl::Status ValidateTorchProfile(const TorchProfileConfig& config, FieldNames names);

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
  // Queue a plain-greedy decode step's pass before the previous step's tokens reach the
  // host, so that the host's work between passes (streaming tokens, scheduling, uploading
  // the batch) overlaps the device's (LLMEngine::LaunchAhead). It only pays where passes run
  // asynchronously (CUDA); on the CPU it delays each token's output by one step. Off while
  // torch_profile traces steps.
  bool async_scheduling = false;
  int32_t max_logprobs = 20;
  // CPU threads for the forward pass; 0: every core. libtorch's own default is one per
  // physical core as it counts them, which some virtual machines report as one.
  int32_t num_threads = 0;
  // Layers whose prefill is always dense (DESIGN.md: dense_layers).
  std::vector<int64_t> dense_layers;
  TorchProfileConfig torch_profile;
};

}  // namespace deltaserve
