// Host-side helpers of the kernel tests: bf16 bits <-> float, device buffers that start
// poisoned (all bits set: NaN for bf16 and float, -1 for int32), random data and the
// relative Frobenius error used as the pass criterion.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace deltaserve::kernels::testing {

using Bf16Bits = std::uint16_t;

Bf16Bits ToBf16(float value);
float FromBf16(Bf16Bits bits);
std::vector<float> FromBf16(const std::vector<Bf16Bits>& bits);

// Normal(0, stddev) values rounded to bf16.
std::vector<Bf16Bits> RandomBf16(std::size_t count, float stddev, std::mt19937& rng);

// ||got - want|| / ||want||; infinity if got holds a non-finite value.
double RelativeError(const std::vector<float>& got, const std::vector<double>& want);

// Asserts a CUDA runtime call succeeded (GoogleTest fatal failure otherwise).
#define DS_ASSERT_CUDA(call)                                      \
  do {                                                            \
    const cudaError_t ds_cuda_status = (call);                    \
    ASSERT_EQ(ds_cuda_status, cudaSuccess) << cudaGetErrorString(ds_cuda_status); \
  } while (0)

template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    if (cudaMalloc(&data_, Bytes()) != cudaSuccess) data_ = nullptr;
    Poison();
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { Upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  T* get() const { return static_cast<T*>(data_); }
  std::size_t Bytes() const { return count_ * sizeof(T); }
  void Poison() { if (data_) cudaMemset(data_, 0xFF, Bytes()); }
  void Upload(const std::vector<T>& host) {
    if (data_) cudaMemcpy(data_, host.data(), Bytes(), cudaMemcpyHostToDevice);
  }
  std::vector<T> Download() const {
    std::vector<T> host(count_);
    if (data_) cudaMemcpy(host.data(), data_, Bytes(), cudaMemcpyDeviceToHost);
    return host;
  }

 private:
  void* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace deltaserve::kernels::testing
