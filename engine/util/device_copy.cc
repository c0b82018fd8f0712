#include "engine/util/device_copy.h"

#include <ATen/ATen.h>

namespace deltaserve {

at::Tensor CopyToDevice(const at::Tensor& host, at::Device device) {
  return device.is_cpu() ? host : host.pin_memory().to(device, /*non_blocking=*/true);
}

}  // namespace deltaserve
