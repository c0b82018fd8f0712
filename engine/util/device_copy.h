#pragma once

#include <ATen/core/Tensor.h>

namespace deltaserve {

// A host tensor on `device` without making the host wait for the device: the copy goes
// through page-locked memory, which the caching host allocator keeps until the copy has
// run (a plain copy to a GPU would stall the host several times per layer). On the CPU
// the tensor itself.
at::Tensor CopyToDevice(const at::Tensor& host, at::Device device);

}  // namespace deltaserve
