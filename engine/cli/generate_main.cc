// deltaserve-generate: one prompt through the engine on the CPU, printed as text or JSON.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>


#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/optional.h"
#include "engine/runtime/llm_engine.h"
#include "engine/runtime/model_source.h"
#include "engine/util/command_line.h"
#include "engine/util/status_macros.h"
#include <nlohmann/json.hpp>

ABSL_FLAG(std::string, model, "", "Hugging Face model directory (config.json, safetensors, tokenizer.json)");
ABSL_FLAG(bool, demo_model, false, "use the built-in demo model (random weights) instead of --model");
ABSL_FLAG(std::string, load_format, "auto", "auto|safetensors: the checkpoint's weights; dummy: seeded random ones");
ABSL_FLAG(std::string, prompt, "", "prompt text, tokenized with the model's special tokens (may be empty: BOS only)");
ABSL_FLAG(std::string, prompt_ids, "", "prompt as comma-separated token ids, used as given");
ABSL_FLAG(int64_t, max_tokens, 64, "tokens to generate at most");
ABSL_FLAG(double, temperature, 0.0, "sampling temperature; 0 is greedy");
ABSL_FLAG(int32_t, top_k, -1, "keep the k most likely tokens (-1: all)");
ABSL_FLAG(double, top_p, 1.0, "nucleus sampling: keep the most likely tokens up to this probability mass");
ABSL_FLAG(double, min_p, 0.0, "drop tokens less likely than min_p times the most likely one");
ABSL_FLAG(double, repetition_penalty, 1.0, "penalty for tokens already in the prompt or output (1: off)");
ABSL_FLAG(double, presence_penalty, 0.0, "subtracted from the logit of every token already generated");
ABSL_FLAG(double, frequency_penalty, 0.0, "subtracted once per earlier occurrence in the output");
ABSL_FLAG(absl::optional<uint64_t>, seed, absl::nullopt, "sampling seed: the same seed gives the same tokens");
ABSL_FLAG(std::vector<std::string>, stop, {}, "stop strings, comma-separated");
ABSL_FLAG(std::string, stop_token_ids, "", "stop token ids, comma-separated");
ABSL_FLAG(bool, ignore_eos, false, "keep generating past EOS");
ABSL_FLAG(int32_t, logprobs, 0, "report the log-probability of each token and this many alternatives");
ABSL_FLAG(bool, json, false, "print one JSON object instead of text");
ABSL_FLAG(std::string, attention_mode, "delta", "prefill attention: dense|sparse|recompute|delta");
ABSL_FLAG(int64_t, window, 2048, "sliding window of sparse prefill attention");
ABSL_FLAG(int64_t, sink, 1024, "sink tokens of sparse prefill attention");
ABSL_FLAG(int64_t, lambda, 64, "delta attention: one dense anchor query every lambda positions");
ABSL_FLAG(int64_t, max_model_len, 0, "longest prompt plus output (0: the model's max_position_embeddings)");
ABSL_FLAG(int64_t, block_size, 16, "tokens per KV-cache block");
ABSL_FLAG(int64_t, max_num_batched_tokens, 8192, "prompt tokens per engine step (longer prompts are chunked)");
ABSL_FLAG(int32_t, threads, 0, "CPU threads for the forward pass (0: every core)");
ABSL_FLAG(std::string, device, "cpu", "where the model runs: cpu (float32) or cuda (bf16, needs a CUDA build)");
ABSL_FLAG(std::string, dense_layers, "", "layers whose prefill is always dense, comma-separated (e.g. 0,1)");

namespace deltaserve {
namespace {

absl::StatusOr<std::vector<int32_t>> ParseIdList(const std::string& text, const std::string& flag) {
  DS_ASSIGN_OR_RETURN(std::vector<int64_t> values, ParseIntegerList(text, "--" + flag, "token id"));
  std::vector<int32_t> ids;
  for (int64_t value : values) {
    if (value < INT32_MIN || value > INT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", value, " is not a token id"));
    }
    ids.push_back(static_cast<int32_t>(value));
  }
  return ids;
}

absl::StatusOr<std::vector<int32_t>> PromptFromFlags(const ModelSource& source, bool has_prompt) {
  const std::string prompt_ids = absl::GetFlag(FLAGS_prompt_ids);
  if (has_prompt == !prompt_ids.empty()) {
    return absl::InvalidArgumentError("give exactly one of --prompt TEXT and --prompt-ids 1,2,3");
  }
  if (!prompt_ids.empty()) return ParseIdList(prompt_ids, "prompt-ids");
  if (source.tokenizer == nullptr) {
    return absl::InvalidArgumentError("--prompt: this model has no tokenizer.json; pass --prompt-ids instead");
  }
  return source.tokenizer->Encode(absl::GetFlag(FLAGS_prompt), /*add_special_tokens=*/true);
}

absl::StatusOr<SamplingParams> SamplingFromFlags() {
  SamplingParams params;
  params.max_tokens = absl::GetFlag(FLAGS_max_tokens);
  params.temperature = static_cast<float>(absl::GetFlag(FLAGS_temperature));
  params.top_k = absl::GetFlag(FLAGS_top_k);
  params.top_p = static_cast<float>(absl::GetFlag(FLAGS_top_p));
  params.min_p = static_cast<float>(absl::GetFlag(FLAGS_min_p));
  params.repetition_penalty = static_cast<float>(absl::GetFlag(FLAGS_repetition_penalty));
  params.presence_penalty = static_cast<float>(absl::GetFlag(FLAGS_presence_penalty));
  params.frequency_penalty = static_cast<float>(absl::GetFlag(FLAGS_frequency_penalty));
  if (absl::GetFlag(FLAGS_seed).has_value()) params.seed = *absl::GetFlag(FLAGS_seed);
  params.stop = absl::GetFlag(FLAGS_stop);
  DS_ASSIGN_OR_RETURN(params.stop_token_ids, ParseIdList(absl::GetFlag(FLAGS_stop_token_ids), "stop-token-ids"));
  params.ignore_eos = absl::GetFlag(FLAGS_ignore_eos);
  params.logprobs = absl::GetFlag(FLAGS_logprobs);
  return params;
}

absl::StatusOr<AttentionConfig> AttentionFromFlags() {
  AttentionConfig config;
  DS_ASSIGN_OR_RETURN(config.mode, ParseAttentionMode(absl::GetFlag(FLAGS_attention_mode)));
  config.window = absl::GetFlag(FLAGS_window);
  config.sink = absl::GetFlag(FLAGS_sink);
  config.lambda = absl::GetFlag(FLAGS_lambda);
  return config;
}

struct Generation {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;
  std::string text;
  std::vector<SampledToken> logprobs;
  FinishReason finish_reason = FinishReason::kNone;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// has_prompt: --prompt was given (an empty one is a real prompt: BOS only).
absl::StatusOr<Generation> Generate(ModelSource source, bool has_prompt) {
  DS_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, PromptFromFlags(source, has_prompt));
  DS_ASSIGN_OR_RETURN(SamplingParams sampling, SamplingFromFlags());
  DS_ASSIGN_OR_RETURN(AttentionConfig attention, AttentionFromFlags());

  EngineConfig config;
  config.max_model_len = absl::GetFlag(FLAGS_max_model_len);
  config.block_size = absl::GetFlag(FLAGS_block_size);
  config.max_num_batched_tokens = absl::GetFlag(FLAGS_max_num_batched_tokens);
  config.max_num_seqs = 1;
  config.num_threads = absl::GetFlag(FLAGS_threads);
  DS_ASSIGN_OR_RETURN(config.device, ParseComputeDevice(absl::GetFlag(FLAGS_device), "--device"));
  DS_ASSIGN_OR_RETURN(config.dense_layers,
                      ParseIntegerList(absl::GetFlag(FLAGS_dense_layers), "--dense-layers", "layer index"));
  // Exactly the blocks this one request can need.
  if (config.block_size < 1) return absl::InvalidArgumentError("--block-size: must be at least 1");
  const KvCacheShape shape{source.config.num_hidden_layers, 0, config.block_size,
                           source.config.num_key_value_heads, source.config.head_dim};
  const int64_t tokens = static_cast<int64_t>(prompt.size()) + std::max<int64_t>(sampling.max_tokens, 1);
  config.kv_cache_bytes = KvCache::BytesPerBlock(shape, DeviceDtype(config.device)) *
                          ((tokens + config.block_size - 1) / config.block_size);

  DS_ASSIGN_OR_RETURN(std::unique_ptr<LLMEngine> engine,
                      LLMEngine::Create(std::move(source.config), std::move(source.weights), source.tokenizer, config));
  Generation result;
  result.prompt_ids = prompt;
  DS_RETURN_IF_ERROR(engine->AddRequest(GenerationRequest{"generate", std::move(prompt), sampling, attention, 0}));
  const auto start = std::chrono::steady_clock::now();
  auto first_token = start;
  while (engine->HasUnfinishedRequests()) {
    DS_ASSIGN_OR_RETURN(std::vector<RequestOutput> outputs, engine->Step());
    for (RequestOutput& output : outputs) {
      if (result.ids.empty() && !output.token_ids.empty()) first_token = std::chrono::steady_clock::now();
      result.ids.insert(result.ids.end(), output.token_ids.begin(), output.token_ids.end());
      result.text += output.text;
      result.logprobs.insert(result.logprobs.end(), output.logprobs.begin(), output.logprobs.end());
      if (output.finished) result.finish_reason = output.finish_reason;
    }
  }
  const auto end = std::chrono::steady_clock::now();
  result.prefill_seconds = std::chrono::duration<double>(first_token - start).count();
  result.decode_seconds = std::chrono::duration<double>(end - first_token).count();
  return result;
}

nlohmann::json ToJson(const Generation& generation) {
  nlohmann::json logprobs = nlohmann::json::array();
  for (const SampledToken& token : generation.logprobs) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [id, logprob] : token.top_logprobs) top.push_back({id, logprob});
    logprobs.push_back({{"token", token.token}, {"logprob", token.logprob}, {"top", top}});
  }
  return {{"prompt_ids", generation.prompt_ids},
          {"ids", generation.ids},
          {"text", generation.text},
          {"finish_reason", std::string(FinishReasonName(generation.finish_reason))},
          {"logprobs", logprobs}};
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "deltaserve-generate (--model DIR | --demo-model) (--prompt TEXT | --prompt-ids 1,2,3) "
      "--max-tokens N --temperature T [--top-k K] [--top-p P] [--seed S] [--logprobs K] [--json]");
  const ParsedCommandLine command_line = ParseDashedCommandLine(argc, argv);
  absl::StatusOr<ModelSource> source = LoadModelSourceFromFlags(
      absl::GetFlag(FLAGS_model), absl::GetFlag(FLAGS_demo_model), absl::GetFlag(FLAGS_load_format));
  if (!source.ok()) {
    std::cerr << "deltaserve-generate: " << source.status().message() << "\n";
    return 1;
  }
  std::cerr << "model: " << source->description << "\n";
  for (const std::string& warning : source->warnings) std::cerr << "warning: " << warning << "\n";
  absl::StatusOr<Generation> generation = Generate(*std::move(source), command_line.given.count("prompt") > 0);
  if (!generation.ok()) {
    std::cerr << "deltaserve-generate: " << generation.status().message() << "\n";
    return 1;
  }
  const Generation& g = *generation;
  const double decode_tokens = static_cast<double>(g.ids.size()) - 1;
  std::fprintf(stderr, "prefill: %zu tokens in %.3f s (%.1f tokens/s); decode: %.0f tokens in %.3f s (%.2f tokens/s)\n",
               g.prompt_ids.size(), g.prefill_seconds, static_cast<double>(g.prompt_ids.size()) / g.prefill_seconds,
               decode_tokens, g.decode_seconds, decode_tokens > 0 ? decode_tokens / g.decode_seconds : 0.0);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(g).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << g.text << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace deltaserve

int main(int argc, char** argv) { return deltaserve::Run(argc, argv); }
