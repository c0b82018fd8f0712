// Pieces the kernel benchmarks share: checked CUDA calls, random bf16 device buffers and
// CUDA-event timing. Benchmarks exit on the first CUDA error; they are tools, not library.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#define BENCH_CHECK(call)                                                              \
  do {                                                                                 \
    const cudaError_t bench_status = (call);                                           \
    if (bench_status != cudaSuccess) {                                                 \
      std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(bench_status)); \
      std::exit(1);                                                                    \
    }                                                                                  \
  } while (0)

namespace deltaserve::kernels::bench {

// Llama-3.1-8B's attention heads, the shape every kernel benchmark measures.
constexpr int kHeads = 32;
constexpr int kKvHeads = 8;
constexpr int kHeadDim = 128;

inline void* DeviceAlloc(std::size_t bytes) {
  void* ptr = nullptr;
  BENCH_CHECK(cudaMalloc(&ptr, bytes));
  return ptr;
}

// 64 MiB of random bf16 (normal, stddev 1) to tile device buffers with.
inline std::vector<std::uint16_t> RandomPattern() {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<std::uint16_t> pattern((64u << 20) / 2 + 4);  // odd length: rows don't repeat in step
  for (auto& v : pattern) {
    const float f = normal(rng);
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, 4);
    v = static_cast<std::uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
  }
  return pattern;
}

// Fills a buffer with random bf16 by tiling the pattern.
inline void FillRandom(void* dst, std::size_t bytes, const std::vector<std::uint16_t>& pattern) {
  const std::size_t chunk = pattern.size() * sizeof(std::uint16_t);
  for (std::size_t off = 0; off < bytes; off += chunk) {
    BENCH_CHECK(cudaMemcpy(static_cast<char*>(dst) + off, pattern.data(), std::min(chunk, bytes - off),
                           cudaMemcpyHostToDevice));
  }
}

// Runs the stages back to back `repeats` times (after one warm-up) on the legacy stream
// and returns each stage's median CUDA-event time: how long a stage takes inside the
// sequence, which can differ from its time alone (clocks, caches, what runs before it).
inline std::vector<double> MedianStageMs(const std::vector<std::function<void()>>& stages, int repeats) {
  std::vector<cudaEvent_t> marks(stages.size() + 1);
  for (auto& mark : marks) BENCH_CHECK(cudaEventCreate(&mark));
  for (const auto& stage : stages) stage();  // warm-up
  BENCH_CHECK(cudaDeviceSynchronize());
  std::vector<std::vector<float>> times(stages.size());
  for (int i = 0; i < repeats; ++i) {
    BENCH_CHECK(cudaEventRecord(marks[0]));
    for (std::size_t k = 0; k < stages.size(); ++k) {
      stages[k]();
      BENCH_CHECK(cudaEventRecord(marks[k + 1]));
    }
    BENCH_CHECK(cudaEventSynchronize(marks.back()));
    for (std::size_t k = 0; k < stages.size(); ++k) {
      float ms = 0.f;
      BENCH_CHECK(cudaEventElapsedTime(&ms, marks[k], marks[k + 1]));
      times[k].push_back(ms);
    }
  }
  for (auto& mark : marks) cudaEventDestroy(mark);
  std::vector<double> medians;
  for (auto& stage_times : times) {
    std::sort(stage_times.begin(), stage_times.end());
    medians.push_back(stage_times[stage_times.size() / 2]);
  }
  return medians;
}

// Median of `repeats` CUDA-event timings of run() on the legacy stream, after one warm-up.
inline double MedianMs(const std::function<void()>& run, int repeats) { return MedianStageMs({run}, repeats)[0]; }

}  // namespace deltaserve::kernels::bench
