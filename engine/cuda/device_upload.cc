#include "engine/cuda/device_upload.h"

#include <ATen/ATen.h>

#include <cstring>

namespace deltaserve {

at::Tensor UploadInts(const std::vector<int32_t>& values, at::Device device) {
  const int64_t count = static_cast<int64_t>(values.size());
  at::Tensor pinned = at::empty({count}, at::TensorOptions(at::kInt).pinned_memory(true));
  if (count > 0) std::memcpy(pinned.data_ptr<int32_t>(), values.data(), values.size() * sizeof(int32_t));
  return pinned.to(device, /*non_blocking=*/true);
}

at::Tensor UploadInts(const at::Tensor& host_values, at::Device device) {
  return host_values.to(at::kInt).pin_memory().to(device, /*non_blocking=*/true);
}

}  // namespace deltaserve
