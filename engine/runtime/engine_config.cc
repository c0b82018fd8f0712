#include "engine/runtime/engine_config.h"

#include "absl/strings/str_cat.h"

namespace deltaserve {

absl::StatusOr<ComputeDevice> ParseComputeDevice(const std::string& name, const std::string& field) {
  if (name == "cpu") return ComputeDevice::kCpu;
  if (name == "cuda") return ComputeDevice::kCuda;
  return absl::InvalidArgumentError(absl::StrCat(field, ": '", name, "' is not a device (cpu or cuda)"));
}

absl::Status ValidateGpuMemoryUtilization(double utilization, const std::string& field) {
  if (utilization > 0 && utilization <= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": must be in (0, 1], got ", utilization));
}

}  // namespace deltaserve
