// deltaserve_memory_bandwidth: how fast this machine reads memory with libtorch's
// threads, the bound for CPU decoding (every weight is read once per token).
// Prints one line: "read GB/s: X".

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

int main() {
  const int64_t elements = int64_t{1} << 29;  // 2 GiB of float32: far beyond any cache
  at::Tensor buffer = at::rand({elements});
  std::vector<double> rates;
  for (int repeat = 0; repeat < 7; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    const float sum = buffer.sum().item<float>();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (sum < 0) return 1;  // keeps the reduction from being skipped
    rates.push_back(static_cast<double>(elements) * 4 / seconds / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("read GB/s: %.2f (median of 7 sums over 2 GiB, %d threads)\n", rates[rates.size() / 2],
              at::get_num_threads());
  return 0;
}
