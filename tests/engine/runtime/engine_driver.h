#pragma once

// Drives an LLMEngine step by step and gathers each request's outputs.

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/runtime/llm_engine.h"

namespace deltaserve::testing {

struct Completion {
  std::vector<int32_t> ids;
  std::string text;
  FinishReason finish_reason = FinishReason::kNone;
  int64_t cached_prompt_tokens = 0;
};

inline void AddOutputs(const std::vector<RequestOutput>& outputs, std::map<std::string, Completion>& completions) {
  for (const RequestOutput& output : outputs) {
    Completion& completion = completions[output.request_id];
    completion.ids.insert(completion.ids.end(), output.token_ids.begin(), output.token_ids.end());
    completion.text += output.text;
    if (output.finished) {
      completion.finish_reason = output.finish_reason;
      completion.cached_prompt_tokens = output.cached_prompt_tokens;
    }
  }
}

// Runs the engine until every request finished; completions by request id.
inline std::map<std::string, Completion> RunToCompletion(LLMEngine& engine) {
  std::map<std::string, Completion> completions;
  while (engine.HasUnfinishedRequests()) {
    absl::StatusOr<std::vector<RequestOutput>> outputs = engine.Step();
    EXPECT_TRUE(outputs.ok()) << outputs.status();
    if (!outputs.ok()) break;
    AddOutputs(*outputs, completions);
  }
  return completions;
}

}  // namespace deltaserve::testing
