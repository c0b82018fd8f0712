#include "engine/runtime/engine_config.h"

#include <sys/stat.h>
#include <unistd.h>

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

absl::Status ValidateTorchProfile(const TorchProfileConfig& config, FieldNames names) {
  const bool flags = names == FieldNames::kFlags;
  const std::string dir_field = flags ? "--torch-profile-dir" : "torch_profile.dir";
  const std::string first_field = flags ? "--torch-profile-first-step" : "torch_profile.first_step";
  const std::string steps_field = flags ? "--torch-profile-steps" : "torch_profile.steps";
  if (config.first_step < 0) {
    return absl::InvalidArgumentError(absl::StrCat(first_field, ": must be >= 0, got ", config.first_step));
  }
  if (config.steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(steps_field, ": must be >= 0, got ", config.steps));
  }
  if (config.dir.empty()) return absl::OkStatus();
  // POSIX, not std::filesystem: PyTorch 2.11's libtorch.so exports its own copies of
  // some std::filesystem functions (tests/support/temp_dir.h).
  struct stat info;
  if (stat(config.dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(dir_field, ": '", config.dir, "' is not a directory"));
  }
  if (access(config.dir.c_str(), W_OK | X_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(dir_field, ": '", config.dir, "' is not writable"));
  }
  return absl::OkStatus();
}

}  // namespace deltaserve
