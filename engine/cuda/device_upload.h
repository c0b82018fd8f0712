#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace deltaserve {

// Host int32 values on the GPU without stalling the host: the copy goes through pinned
// memory, which the caching host allocator keeps until the copy has run.
at::Tensor UploadInts(const std::vector<int32_t>& values, at::Device device);

// A host tensor on the GPU the same way, in its own dtype.
at::Tensor Upload(const at::Tensor& host, at::Device device);

}  // namespace deltaserve
