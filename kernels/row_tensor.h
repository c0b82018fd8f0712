// A strided view of bf16 rows of heads: element (row, head, c) lives at
// data + row * row_stride + head * head_stride + c (strides in elements).
#pragma once

#include <cstdint>

namespace deltaserve::kernels {

struct RowTensor {
  void* data = nullptr;
  std::int64_t row_stride = 0;
  std::int64_t head_stride = 0;
};

}  // namespace deltaserve::kernels
