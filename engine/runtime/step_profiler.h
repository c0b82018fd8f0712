#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "engine/runtime/engine_config.h"

namespace deltaserve {

// Kineto traces of one kind of the engine's forward passes: those that carry prompt
// tokens (prefill or mixed steps), or with config.decode the decode steps (CUDA-graph
// replays included); the other kind is neither traced nor counted. The passes of the
// traced kind are numbered 0, 1, ... in the order they run, and the ones numbered in
// [first_step, first_step + steps) are each written as a Chrome trace to
// dir/step-<number>.json, or dir/decode-step-<number>.json (scripts/gpu/trace_summary.py
// reads both).
class StepProfiler {
 public:
  // Traces the pass from its construction until it goes; it moves with the pass from its
  // launch to the wait for it (LaunchedPass).
  class Trace {
   public:
    ~Trace();
    Trace(Trace&& other) noexcept : path_(std::exchange(other.path_, {})) {}
    Trace(const Trace&) = delete;
    Trace& operator=(const Trace&) = delete;
    Trace& operator=(Trace&&) = delete;
    bool active() const { return !path_.empty(); }

   private:
    friend class StepProfiler;
    // path empty: this pass is not traced.
    Trace(std::string path, bool cuda);

    std::string path_;
  };

  // config as validated by ValidateTorchProfile; cuda: the model runs on the GPU, whose
  // kernels the trace then records too.
  StepProfiler(TorchProfileConfig config, bool cuda);

  // Call once per forward pass, around the pass, its logits fetch and EndForward.
  Trace Begin(bool carries_prompt_tokens);

 private:
  TorchProfileConfig config_;
  bool cuda_;
  int64_t passes_of_traced_kind_ = 0;
};

}  // namespace deltaserve
