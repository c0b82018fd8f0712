#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace deltaserve {

// Host int32 values on the GPU without stalling the host (CopyToDevice).
at::Tensor UploadInts(const std::vector<int32_t>& values, at::Device device);

}  // namespace deltaserve
