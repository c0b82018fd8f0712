#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace deltaserve {

// Host int32 values on the GPU without stalling the host: the copy goes through pinned
// memory, which the caching host allocator keeps until the copy has run.
at::Tensor UploadInts(const std::vector<int32_t>& values, at::Device device);

// Host int32 values as one int32 tensor on the GPU.
at::Tensor UploadInts(const at::Tensor& host_values, at::Device device);

}  // namespace deltaserve
