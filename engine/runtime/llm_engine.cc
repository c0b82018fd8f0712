#include "engine/runtime/llm_engine.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"

namespace deltaserve {
namespace {

void AppendTelemetry(const AttentionTelemetry& from, AttentionTelemetry& into) {
  into.anchor_sparse.insert(into.anchor_sparse.end(), from.anchor_sparse.begin(), from.anchor_sparse.end());
  into.probe_sparse.insert(into.probe_sparse.end(), from.probe_sparse.begin(), from.probe_sparse.end());
  into.probe_delta.insert(into.probe_delta.end(), from.probe_delta.begin(), from.probe_delta.end());
}

std::optional<double> Mean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// Every layer is reported, also those of a prompt that the prefix cache answered whole.
std::vector<LayerAccuracy> LayerAccuracies(const std::vector<AttentionTelemetry>& per_layer, int64_t num_layers) {
  std::vector<LayerAccuracy> layers;
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const AttentionTelemetry measured =
        layer < static_cast<int64_t>(per_layer.size()) ? per_layer[layer] : AttentionTelemetry{};
    layers.push_back(LayerAccuracy{layer, Mean(measured.anchor_sparse), Mean(measured.probe_sparse),
                                   Mean(measured.probe_delta), static_cast<int64_t>(measured.anchor_sparse.size()),
                                   static_cast<int64_t>(measured.probe_sparse.size())});
  }
  return layers;
}

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The requests of the step's sequences that are still running: a request the step ends
// before it fails is gone after.
std::vector<std::string> RunningRequestIds(const std::vector<ScheduledSequence>& scheduled) {
  std::vector<std::string> ids;
  for (const ScheduledSequence& item : scheduled) {
    if (!item.seq->finished()) ids.push_back(item.seq->request_id);
  }
  return ids;
}

// The config with its defaults filled in (max_model_len from the model, num_threads from
// the machine), or INVALID_ARGUMENT naming the field.
absl::StatusOr<EngineConfig> ResolveConfig(const ModelConfig& model_config, const EngineConfig& config) {
  EngineConfig resolved = config;
  if (resolved.max_model_len <= 0) resolved.max_model_len = model_config.max_position_embeddings;
  if (resolved.block_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("block_size: must be at least 1, got ", resolved.block_size));
  }
  if (resolved.max_num_seqs < 1 || resolved.max_num_batched_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_num_seqs and max_num_batched_tokens must be at least 1, got ",
                                                   resolved.max_num_seqs, " and ", resolved.max_num_batched_tokens));
  }
  DS_RETURN_IF_ERROR(ValidateGpuMemoryUtilization(resolved.gpu_memory_utilization, "gpu_memory_utilization"));
  if (resolved.kv_cache_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("kv_cache_bytes: must be >= 0 (0: size from the device), got ", resolved.kv_cache_bytes));
  }
  DS_RETURN_IF_ERROR(ValidateTorchProfile(resolved.torch_profile, FieldNames::kConfig));
  if (resolved.num_threads <= 0) resolved.num_threads = static_cast<int32_t>(std::thread::hardware_concurrency());
  for (int64_t layer : resolved.dense_layers) {
    if (layer < 0 || layer >= model_config.num_hidden_layers) {
      return absl::InvalidArgumentError(absl::StrCat("dense_layers: ", layer, " is not a layer of this model (0 to ",
                                                     model_config.num_hidden_layers - 1, ")"));
    }
  }
  return resolved;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LLMEngine>> LLMEngine::Create(ModelConfig model_config, LlamaWeights weights,
                                                             std::shared_ptr<const Tokenizer> tokenizer,
                                                             const EngineConfig& config) {
  DS_ASSIGN_OR_RETURN(const EngineConfig resolved, ResolveConfig(model_config, config));
  at::set_num_threads(resolved.num_threads);
  absl::StatusOr<DeviceModel> device_model =
      resolved.device == ComputeDevice::kCuda ? BuildCudaModel(model_config, std::move(weights), resolved)
                                              : BuildCpuModel(model_config, std::move(weights), resolved);
  if (!device_model.ok()) return device_model.status();
  return CreateResolved(*std::move(device_model), std::move(tokenizer), resolved);
}

absl::StatusOr<std::unique_ptr<LLMEngine>> LLMEngine::Create(DeviceModel device_model,
                                                             std::shared_ptr<const Tokenizer> tokenizer,
                                                             const EngineConfig& config) {
  if (device_model.model == nullptr || device_model.cache == nullptr || device_model.attention == nullptr) {
    return absl::InvalidArgumentError("device_model: needs its model, KV cache and attention backend");
  }
  DS_ASSIGN_OR_RETURN(const EngineConfig resolved, ResolveConfig(device_model.model->config(), config));
  at::set_num_threads(resolved.num_threads);
  return CreateResolved(std::move(device_model), std::move(tokenizer), resolved);
}

std::unique_ptr<LLMEngine> LLMEngine::CreateResolved(DeviceModel device_model,
                                                     std::shared_ptr<const Tokenizer> tokenizer,
                                                     EngineConfig resolved) {
  const KvCacheShape& shape = device_model.cache->shape();
  const at::Tensor& blocks = device_model.cache->keys(0);
  resolved.kv_cache_bytes = shape.num_blocks * KvCache::BytesPerBlock(shape, blocks.scalar_type());
  return std::unique_ptr<LLMEngine>(new LLMEngine(std::move(device_model), std::move(tokenizer), resolved));
}

LLMEngine::LLMEngine(DeviceModel device_model, std::shared_ptr<const Tokenizer> tokenizer, const EngineConfig& config)
    : config_(config),
      device_model_(std::move(device_model)),
      model_(*device_model_.model),
      tokenizer_(std::move(tokenizer)),
      block_manager_(device_model_.cache->shape().num_blocks, device_model_.cache->shape().block_size),
      scheduler_(SchedulerConfig{config.max_num_seqs, config.max_num_batched_tokens}, block_manager_),
      runner_(device_model_, StepProfiler(config.torch_profile, config.device == ComputeDevice::kCuda)),
      sampling_workers_(config.num_threads) {}

LLMEngine::~LLMEngine() {
  // The device must not run a pass over the model and cache that go with this engine.
  if (!ahead_.has_value()) return;
  try {
    runner_.Wait(std::move(ahead_->pass));
  } catch (const c10::Error&) {
    // The fault is the device's and ends with it; nothing is left to report it to.
  }
}

absl::Status LLMEngine::Validate(const GenerationRequest& request) const {
  if (request.request_id.empty()) return absl::InvalidArgumentError("request_id: must not be empty");
  if (requests_.count(request.request_id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("request_id: '", request.request_id, "' is already running"));
  }
  const int64_t prompt_len = static_cast<int64_t>(request.prompt_token_ids.size());
  if (prompt_len == 0) return absl::InvalidArgumentError("prompt: has no tokens");
  const int64_t vocab = model_.config().vocab_size;
  for (int64_t i = 0; i < prompt_len; ++i) {
    const int32_t id = request.prompt_token_ids[i];
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("prompt_token_ids[", i, "]: ", id,
                                                     " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  SamplingLimits limits;
  limits.vocab_size = vocab;
  limits.max_tokens = config_.max_model_len;
  limits.max_logprobs = config_.max_logprobs;
  DS_RETURN_IF_ERROR(ValidateSamplingParams(request.sampling, limits));
  DS_RETURN_IF_ERROR(ValidateAttentionConfig(request.attention));
  const int64_t total = prompt_len + request.sampling.max_tokens;
  if (total > config_.max_model_len) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", prompt_len, " tokens plus max_tokens ",
                                                   request.sampling.max_tokens, " exceed max_model_len ",
                                                   config_.max_model_len));
  }
  if (block_manager_.BlocksFor(total) > block_manager_.num_blocks()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", prompt_len, " tokens plus max_tokens ",
                                                   request.sampling.max_tokens, " need ",
                                                   block_manager_.BlocksFor(total), " KV-cache blocks, the cache has ",
                                                   block_manager_.num_blocks()));
  }
  return absl::OkStatus();
}

absl::Status LLMEngine::AddRequest(GenerationRequest request) {
  DS_RETURN_IF_ERROR(Validate(request));
  const uint64_t seed = request.sampling.seed.value_or(seed_source_());
  auto seq = std::make_unique<Sequence>(request.request_id, std::move(request.prompt_token_ids),
                                        std::move(request.sampling), request.attention, request.priority, seed,
                                        next_arrival_++);
  seq->report_accuracy = request.report_accuracy;
  Sequence* raw = seq.get();
  requests_.emplace(request.request_id, Request{std::move(seq), OutputText(tokenizer_.get(), raw->sampling.stop)});
  scheduler_.Add(raw);
  return absl::OkStatus();
}

FinishReason LLMEngine::CheckFinished(const Sequence& seq, int32_t token) const {
  const SamplingParams& sampling = seq.sampling;
  const std::vector<int32_t>& eos = model_.config().eos_token_ids;
  if (!sampling.ignore_eos && std::find(eos.begin(), eos.end(), token) != eos.end()) return FinishReason::kEos;
  if (std::find(sampling.stop_token_ids.begin(), sampling.stop_token_ids.end(), token) !=
      sampling.stop_token_ids.end()) {
    return FinishReason::kStop;
  }
  return ReachesLengthLimit(seq, 0) ? FinishReason::kLength : FinishReason::kNone;
}

bool LLMEngine::ReachesLengthLimit(const Sequence& seq, int64_t more) const {
  return seq.num_output_tokens() + more >= seq.sampling.max_tokens || seq.num_tokens() + more >= config_.max_model_len;
}

RequestOutput LLMEngine::Finish(Request& request, FinishReason reason, RequestOutput output) {
  Sequence& seq = *request.seq;
  seq.status = SequenceStatus::kFinished;
  seq.finish_reason = reason;
  output.finished = true;
  output.finish_reason = reason;
  output.prompt_tokens = seq.num_prompt_tokens;
  output.completion_tokens = seq.num_output_tokens();
  output.cached_prompt_tokens = seq.num_cached_prompt_tokens;
  output.queue_seconds =
      std::chrono::duration<double>(seq.first_scheduled_time.value_or(Clock::now()) - seq.arrival_time).count();
  if (seq.report_accuracy) {
    output.layer_accuracy = LayerAccuracies(seq.prefill_accuracy, model_.config().num_hidden_layers);
  }
  for (std::vector<PrefillChunk>& chunks : unrecorded_prefill_) {
    for (PrefillChunk& chunk : chunks) {
      if (chunk.seq == &seq) chunk.seq = nullptr;
    }
  }
  scheduler_.Remove(&seq);
  if (ahead_.has_value() && std::any_of(ahead_->scheduled.begin(), ahead_->scheduled.end(),
                                        [&seq](const ScheduledSequence& item) { return item.seq == &seq; })) {
    ahead_->retired.push_back(std::move(request.seq));
  }
  requests_.erase(seq.request_id);
  return output;
}

absl::StatusOr<RequestOutput> LLMEngine::AcceptToken(Request& request, const SampledToken& sampled) {
  Sequence& seq = *request.seq;
  seq.token_ids.push_back(sampled.token);
  RequestOutput output;
  output.request_id = seq.request_id;
  output.token_ids.push_back(sampled.token);
  if (seq.sampling.logprobs > 0) output.logprobs.push_back(sampled);
  DS_ASSIGN_OR_RETURN(OutputText::Update update, request.text.Append(sampled.token));
  output.text = std::move(update.text);
  FinishReason reason = CheckFinished(seq, sampled.token);
  if (update.stopped && reason != FinishReason::kEos) reason = FinishReason::kStop;
  if (reason == FinishReason::kNone) return output;
  if (!update.stopped) {
    DS_ASSIGN_OR_RETURN(std::string rest, request.text.Finish());
    output.text += rest;
  }
  return Finish(request, reason, std::move(output));
}

std::vector<RequestOutput> LLMEngine::Abort(const std::string& request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return {};
  RequestOutput output;
  output.request_id = request_id;
  return {Finish(it->second, FinishReason::kCancelled, std::move(output))};
}

void LLMEngine::RecordPrefill(const PrefillChunk& chunk) {
  Sequence& seq = *chunk.seq;
  last_step_attention_.prefill_seconds.emplace_back(seq.attention.mode, chunk.measurements.attention_seconds);
  for (const AttentionTelemetry& layer : chunk.measurements.layers) {
    AppendTelemetry(layer, last_step_attention_.cosines);
  }
  if (!seq.report_accuracy) return;
  // A preempted sequence computes its prompt again: the new samples replace the old.
  if (chunk.start < seq.accuracy_measured_until) seq.prefill_accuracy.clear();
  seq.prefill_accuracy.resize(std::max(seq.prefill_accuracy.size(), chunk.measurements.layers.size()));
  for (size_t layer = 0; layer < chunk.measurements.layers.size(); ++layer) {
    AppendTelemetry(chunk.measurements.layers[layer], seq.prefill_accuracy[layer]);
  }
  seq.accuracy_measured_until = chunk.end;
}

void LLMEngine::RecordMeasuredPrefill(StepLogits& step) {
  unrecorded_prefill_.push_back(std::move(step.prefill));
  if (!step.measurements_complete) return;
  for (const std::vector<PrefillChunk>& chunks : unrecorded_prefill_) {
    for (const PrefillChunk& chunk : chunks) {
      if (chunk.seq != nullptr) RecordPrefill(chunk);
    }
  }
  unrecorded_prefill_.clear();
}

absl::StatusOr<std::vector<RequestOutput>> LLMEngine::Step() {
  last_step_attention_ = StepAttentionReport{};
  last_step_failed_requests_.clear();
  std::optional<InFlightStep> current = std::exchange(ahead_, std::nullopt);
  if (!current.has_value()) {
    std::vector<ScheduledSequence> scheduled = scheduler_.Schedule();
    if (scheduled.empty()) return std::vector<RequestOutput>{};
    absl::StatusOr<InFlightStep> launched = Launch(std::move(scheduled));
    if (!launched.ok()) return launched.status();
    current.emplace(*std::move(launched));
  }
  LaunchAhead(*current);
  std::vector<std::string> ran = RunningRequestIds(current->scheduled);
  absl::StatusOr<std::vector<RequestOutput>> outputs = Complete(*current);
  if (!outputs.ok()) {
    // The pass launched ahead runs the same requests, which end here.
    ahead_.reset();
    EndFailedStep(std::move(ran));
  }
  return outputs;
}

absl::StatusOr<LLMEngine::InFlightStep> LLMEngine::Launch(std::vector<ScheduledSequence> scheduled) {
  const Clock::time_point start = Clock::now();
  try {
    LaunchedPass pass = runner_.Launch(scheduled);
    forward_seconds_total_ += SecondsSince(start);
    return InFlightStep{std::move(pass), std::move(scheduled), {}};
  } catch (const c10::Error& e) {
    EndFailedStep(RunningRequestIds(scheduled));
    return absl::InternalError(absl::StrCat("forward pass: ", e.what_without_backtrace()));
  }
}

void LLMEngine::LaunchAhead(const InFlightStep& current) {
  if (!config_.async_scheduling || !config_.torch_profile.dir.empty()) return;
  const std::vector<Sequence*>& owners = current.pass.result.owners;
  if (!current.pass.greedy_ids.defined() || owners.size() != current.scheduled.size()) return;
  for (const Sequence* seq : owners) {
    if (ReachesLengthLimit(*seq, 1)) return;
  }
  if (!scheduler_.ReserveAhead(current.scheduled)) return;
  const Clock::time_point start = Clock::now();
  try {
    LaunchedPass pass = runner_.LaunchAhead(current.pass);
    forward_seconds_total_ += SecondsSince(start);
    std::vector<ScheduledSequence> scheduled;
    for (Sequence* seq : owners) scheduled.push_back(ScheduledSequence{seq, 1});
    ahead_.emplace(InFlightStep{std::move(pass), std::move(scheduled), {}});
    ++passes_launched_ahead_;
  } catch (const c10::Error& e) {
    // Not an error of any request yet: the next step schedules these rows again, from the
    // host's tokens, and a lasting fault fails them there. What the failed launch queued
    // writes the same keys and values to the same slots.
    std::cerr << "deltaserve: a decode pass launched ahead failed (" << e.what_without_backtrace()
              << "); the next step runs its rows in turn\n";
  }
}

absl::StatusOr<std::vector<RequestOutput>> LLMEngine::Complete(InFlightStep& step) {
  std::vector<RequestOutput> outputs;
  StepLogits logits;
  const Clock::time_point start = Clock::now();
  try {
    logits = runner_.Wait(std::move(step.pass));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("forward pass: ", e.what_without_backtrace()));
  }
  forward_seconds_total_ += SecondsSince(start);
  RecordMeasuredPrefill(logits);
  for (const ScheduledSequence& item : step.scheduled) {
    if (item.seq->finished()) continue;
    item.seq->num_computed_tokens += item.num_new_tokens;
    block_manager_.CacheComputedBlocks(*item.seq);
  }
  const std::vector<SampledToken> sampled = Sample(logits);
  for (int64_t row = 0; row < static_cast<int64_t>(sampled.size()); ++row) {
    Sequence& seq = *logits.owners[row];
    if (seq.finished()) continue;
    DS_ASSIGN_OR_RETURN(RequestOutput output, AcceptToken(requests_.at(seq.request_id), sampled[row]));
    outputs.push_back(std::move(output));
  }
  return outputs;
}

void LLMEngine::EndFailedStep(std::vector<std::string> ran) {
  // Abort ignores a request the step finished before it failed; its output went with the
  // step's, so it is named among the failed all the same.
  for (const std::string& id : ran) Abort(id);
  last_step_failed_requests_ = std::move(ran);
}

std::vector<SampledToken> LLMEngine::Sample(const StepLogits& step) {
  const int64_t rows = static_cast<int64_t>(step.owners.size());
  std::vector<SampledToken> sampled(step.owners.size());
  if (!step.greedy_tokens.empty()) {
    for (int64_t row = 0; row < rows; ++row) sampled[row].token = step.greedy_tokens[row];
    return sampled;
  }
  // Rows sample in parallel (each sequence owns its generator, so the tokens do not
  // depend on the threads): a 64-row step over a 128K vocabulary takes tens of
  // milliseconds on one core.
  sampling_workers_.ForEach(rows, [&](int64_t row) {
    Sequence& seq = *step.owners[row];
    sampled[row] = SampleToken(step.logits[row], seq.token_ids, static_cast<size_t>(seq.num_output_tokens()),
                               seq.sampling, seq.rng);
  });
  return sampled;
}

EngineStats LLMEngine::stats() const {
  EngineStats stats;
  stats.running = scheduler_.num_running();
  stats.waiting = scheduler_.num_waiting();
  stats.kv_cache_usage = 1.0 - static_cast<double>(block_manager_.num_free_blocks()) / block_manager_.num_blocks();
  stats.preemptions = scheduler_.num_preemptions();
  stats.prefix_cache_queries = block_manager_.prefix_cache_queries();
  stats.prefix_cache_hits = block_manager_.prefix_cache_hits();
  stats.forward_seconds_total = forward_seconds_total_;
  stats.passes_launched_ahead = passes_launched_ahead_;
  return stats;
}

}  // namespace deltaserve
