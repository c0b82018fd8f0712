#include "engine/cuda/device_upload.h"

#include <ATen/ATen.h>

namespace deltaserve {

at::Tensor UploadInts(const std::vector<int32_t>& values, at::Device device) {
  return Upload(at::tensor(values, at::kInt), device);
}

at::Tensor Upload(const at::Tensor& host, at::Device device) {
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

}  // namespace deltaserve
