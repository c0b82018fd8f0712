#pragma once

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "engine/model/model_config.h"
#include "tests/engine/model/safetensors_writer.h"

namespace deltaserve {

inline std::filesystem::path StoriesDir() {
  return std::filesystem::path(DELTASERVE_SHARED_MODELS_DIR) / "stories260K";
}

inline ModelConfig StoriesConfig() {
  absl::StatusOr<ModelConfig> config = LoadModelConfig(StoriesDir());
  if (!config.ok()) throw std::runtime_error(config.status().ToString());
  return *config;
}

// The real checkpoint's tensors, for tests that write a changed copy of it.
inline std::map<std::string, TestTensor> StoriesTensors() {
  return ReadTestTensors(StoriesDir() / "model.safetensors");
}

}  // namespace deltaserve
