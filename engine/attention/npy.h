#pragma once

#include <string>

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace deltaserve {

// NumPy .npy files of little-endian float32 ('<f4') in C order, the exchange format of
// deltaserve-attention. Reading accepts format versions 1, 2 and 3; errors name the file.
absl::StatusOr<at::Tensor> ReadNpyFloat32(const std::string& path);

// Writes a float32 tensor of any shape as a version 1 .npy file.
absl::Status WriteNpyFloat32(const std::string& path, const at::Tensor& tensor);

}  // namespace deltaserve
