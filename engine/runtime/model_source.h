#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/llama_weights.h"
#include "engine/model/model_config.h"
#include "engine/tokenizer/tokenizer.h"

namespace deltaserve {

enum class LoadFormat {
  kSafetensors,  // the checkpoint's own weights
  kDummy,        // seeded random weights of the checkpoint's config.json shapes
};

absl::StatusOr<LoadFormat> ParseLoadFormat(const std::string& name);

// Everything the engine needs from a model directory.
struct ModelSource {
  ModelConfig config;
  LlamaWeights weights;
  std::shared_ptr<const Tokenizer> tokenizer;  // null: the model runs on token ids only
  std::string description;                     // one line for logs: what was loaded
  std::vector<std::string> warnings;           // said once at start-up
};

// Reads config.json, the weights (or makes dummy ones) and the tokenizer from dir.
// A directory without tokenizer.json still loads: dummy weights get a byte-level
// tokenizer, real weights run on token ids with a warning.
absl::StatusOr<ModelSource> LoadModelSource(const std::string& dir, LoadFormat format, uint64_t dummy_seed = 0);

// What the tools' --model DIR, --demo-model and --load-format flags ask for: exactly one
// of a directory and the demo model.
absl::StatusOr<ModelSource> LoadModelSourceFromFlags(const std::string& dir, bool demo_model,
                                                     const std::string& load_format);

// The built-in demo: DemoModelConfig() with seeded random weights and a byte-level
// tokenizer. Its text is noise; the description and warnings say so.
ModelSource LoadDemoModelSource();

}  // namespace deltaserve
