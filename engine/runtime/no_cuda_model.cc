// BuildCudaModel in a build without CUDA: the same flags work everywhere, and asking
// this build for the GPU says how to get one that has it.
#include "engine/runtime/device_model.h"

namespace deltaserve {

absl::StatusOr<DeviceModel> BuildCudaModel(const ModelConfig&, LlamaWeights, const EngineConfig&) {
  return absl::FailedPreconditionError(
      "device cuda: this deltaserve was built without CUDA; configure with -DDELTASERVE_CUDA=ON against a "
      "CUDA libtorch (deploy/airgap/build.sh does) or use --device cpu");
}

}  // namespace deltaserve
