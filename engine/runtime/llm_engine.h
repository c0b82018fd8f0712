#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cache/kv_cache.h"
#include "engine/model/attention_backend.h"
#include "engine/model/llama_model.h"
#include "engine/runtime/block_manager.h"
#include "engine/runtime/device_model.h"
#include "engine/runtime/engine_config.h"
#include "engine/runtime/model_runner.h"
#include "engine/runtime/output_text.h"
#include "engine/runtime/row_workers.h"
#include "engine/runtime/scheduler.h"
#include "engine/runtime/sequence.h"
#include "engine/tokenizer/tokenizer.h"

namespace deltaserve {

struct GenerationRequest {
  std::string request_id;
  std::vector<int32_t> prompt_token_ids;
  SamplingParams sampling;
  AttentionConfig attention;
  int32_t priority = 0;  // lower runs first
  // The final output carries the prefill's accuracy per layer (RequestOutput::layer_accuracy).
  bool report_accuracy = false;
};

// One layer's mean cosine similarities over a request's prefill (DESIGN.md, "Accuracy
// telemetry"); a mean is absent when nothing of its kind was measured (dense and sparse
// modes have no anchors, probes need probe_fraction > 0, probe_delta needs delta mode).
struct LayerAccuracy {
  int64_t layer = 0;
  std::optional<double> anchor_sparse;
  std::optional<double> probe_sparse;
  std::optional<double> probe_delta;
  int64_t anchors = 0;
  int64_t probes = 0;
};

// What the prefill attention of one step measured, for metrics.
struct StepAttentionReport {
  // Every cosine sample of every prefill chunk and layer in the step.
  AttentionTelemetry cosines;
  // One per prefill chunk: its attention time summed over layers.
  std::vector<std::pair<AttentionMode, double>> prefill_seconds;
};

// What one step produced for one request: the new tokens and text since the last
// output, and at the end the finish reason and token counts.
struct RequestOutput {
  std::string request_id;
  std::vector<int32_t> token_ids;
  std::string text;
  std::vector<SampledToken> logprobs;  // one per token when the request asked for logprobs
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;
  double queue_seconds = 0;  // from AddRequest until the request first ran
  // On the final output of a request that asked for it: one per layer.
  std::vector<LayerAccuracy> layer_accuracy;
};

struct EngineStats {
  int64_t running = 0;
  int64_t waiting = 0;
  double kv_cache_usage = 0.0;
  int64_t preemptions = 0;
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
  // Time spent in the model's forward pass since start; the rest of a step is the
  // engine's own (scheduling, sampling, detokenizing).
  double forward_seconds_total = 0;
  // Passes queued before the previous pass's tokens reached the host (async_scheduling).
  int64_t passes_launched_ahead = 0;
};

// The engine loop: requests in, one Step() at a time (schedule, run the model over the
// paged cache, sample, detokenize, check stop conditions), outputs out.
class LLMEngine {
 public:
  // tokenizer may be null: requests then come as token ids and outputs carry no text.
  // Places the model on config.device and sizes the KV cache there; INVALID_ARGUMENT
  // for a bad config, RESOURCE_EXHAUSTED (with the sizes) when the device is too small.
  static absl::StatusOr<std::unique_ptr<LLMEngine>> Create(ModelConfig model_config, LlamaWeights weights,
                                                           std::shared_ptr<const Tokenizer> tokenizer,
                                                           const EngineConfig& config);
  // An engine over a model already placed on its device (as BuildCpuModel or BuildCudaModel
  // return it); the same checks of the config, and INVALID_ARGUMENT when a part is missing.
  static absl::StatusOr<std::unique_ptr<LLMEngine>> Create(DeviceModel device_model,
                                                           std::shared_ptr<const Tokenizer> tokenizer,
                                                           const EngineConfig& config);

  // Waits for a pass still on the device.
  ~LLMEngine();

  // INVALID_ARGUMENT (naming the field and the limit) for anything the engine cannot run.
  absl::Status AddRequest(GenerationRequest request);
  // Finishes the request as cancelled at once and frees its blocks; unknown ids are ignored.
  std::vector<RequestOutput> Abort(const std::string& request_id);
  // A step that fails (its forward pass threw: a CUDA out-of-memory error, say) ends the
  // requests it ran, whose cache and sampling state are then unknown, and names them in
  // last_step_failed_requests(); the requests it did not run keep their place.
  absl::StatusOr<std::vector<RequestOutput>> Step();

  // Also while a pass launched ahead is still to be waited for, whose requests all ended.
  bool HasUnfinishedRequests() const { return !requests_.empty() || ahead_.has_value(); }
  EngineStats stats() const;
  // What the last Step's prefill attention measured; cleared by the next Step.
  const StepAttentionReport& last_step_attention() const { return last_step_attention_; }
  // The requests a failed Step ended, with no further output; cleared by the next Step.
  const std::vector<std::string>& last_step_failed_requests() const { return last_step_failed_requests_; }
  const ModelConfig& model_config() const { return model_.config(); }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // kv_cache_bytes is what the cache took.
  const EngineConfig& config() const { return config_; }
  int64_t num_kv_cache_blocks() const { return block_manager_.num_blocks(); }

 private:
  struct Request {
    std::unique_ptr<Sequence> seq;
    OutputText text;
  };

  // A step's pass on the device, from its launch until the step that waits for it.
  struct InFlightStep {
    LaunchedPass pass;
    std::vector<ScheduledSequence> scheduled;
    // Sequences that ended while the pass was launched ahead: it points at them until it
    // is waited for, when their rows are dropped.
    std::vector<std::unique_ptr<Sequence>> retired;
  };

  LLMEngine(DeviceModel device_model, std::shared_ptr<const Tokenizer> tokenizer, const EngineConfig& config);
  // Both Creates end here, with the config already checked (ResolveConfig) and applied.
  static std::unique_ptr<LLMEngine> CreateResolved(DeviceModel device_model,
                                                   std::shared_ptr<const Tokenizer> tokenizer, EngineConfig resolved);

  absl::Status Validate(const GenerationRequest& request) const;
  absl::StatusOr<InFlightStep> Launch(std::vector<ScheduledSequence> scheduled);
  // With async_scheduling, queues the next step's pass behind `current` when it is the step
  // the scheduler would make once current's tokens are in: every running sequence decodes
  // one token, none waits to be admitted, every row samples plain greedy and none ends by
  // length with current's token.
  void LaunchAhead(const InFlightStep& current);
  // Waits for the step's pass, then advances, samples and streams its live rows.
  absl::StatusOr<std::vector<RequestOutput>> Complete(InFlightStep& step);
  void EndFailedStep(std::vector<std::string> ran);
  absl::StatusOr<RequestOutput> AcceptToken(Request& request, const SampledToken& sampled);
  // The next token of every row of the step.
  std::vector<SampledToken> Sample(const StepLogits& step);
  FinishReason CheckFinished(const Sequence& seq, int32_t token) const;
  // Whether seq reaches max_tokens or max_model_len with `more` tokens beyond its own.
  bool ReachesLengthLimit(const Sequence& seq, int64_t more) const;
  RequestOutput Finish(Request& request, FinishReason reason, RequestOutput output);
  void RecordPrefill(const PrefillChunk& chunk);
  // Records every unrecorded chunk once the step's measurements are complete.
  void RecordMeasuredPrefill(StepLogits& step);

  EngineConfig config_;
  DeviceModel device_model_;
  const LlamaModel& model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  BlockManager block_manager_;
  Scheduler scheduler_;
  ModelRunner runner_;
  RowWorkers sampling_workers_;
  std::map<std::string, Request> requests_;
  uint64_t next_arrival_ = 0;
  double forward_seconds_total_ = 0;
  StepAttentionReport last_step_attention_;
  // Prefill chunks of steps whose measurements were not complete yet (StepLogits), in step
  // order; the device backend writes into them until a later step completes them. A chunk
  // of a sequence that finished meanwhile has seq == nullptr and is not recorded.
  std::vector<std::vector<PrefillChunk>> unrecorded_prefill_;
  std::vector<std::string> last_step_failed_requests_;
  std::optional<InFlightStep> ahead_;  // launched by the last Step, waited for by the next
  int64_t passes_launched_ahead_ = 0;
  std::mt19937_64 seed_source_{std::random_device{}()};
};

}  // namespace deltaserve
