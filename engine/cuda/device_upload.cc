#include "engine/cuda/device_upload.h"

#include <ATen/ATen.h>

#include "engine/util/device_copy.h"

namespace deltaserve {

at::Tensor UploadInts(const std::vector<int32_t>& values, at::Device device) {
  return CopyToDevice(at::tensor(values, at::kInt), device);
}

}  // namespace deltaserve
