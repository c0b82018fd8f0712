#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/llm_engine.h"

namespace c10 {
class ThreadPool;
}  // namespace c10

namespace deltaserve {

// Where a request's time went, measured from its arrival at AsyncEngine::Submit.
struct RequestTimings {
  double queue_seconds = 0;  // until the engine thread handed it to the scheduler
  double time_to_first_token_seconds = 0;
  double total_seconds = 0;
};

// One delivery to a request's consumer. The last one has output.finished set, or a
// non-OK status (the engine refused or failed the request); nothing follows it.
struct RequestEvent {
  RequestOutput output;
  absl::Status status;
  RequestTimings timings;  // filled on the last event

  bool last() const { return output.finished || !status.ok(); }
};

// Called on the delivery thread, one event after another in the order the engine made
// them: it should return quickly (copy or merge the event into the consumer's own buffer),
// since every request's events wait behind it, but it never holds up the engine's steps.
using RequestEventCallback = std::function<void(RequestEvent)>;

// What one turn of the engine loop did, for metrics.
struct EngineLoopReport {
  EngineStats stats;                        // after the turn
  std::optional<double> step_seconds;       // set when the turn ran LLMEngine::Step
  int64_t generated_tokens = 0;
  StepAttentionReport attention{};  // what the step's prefill attention measured
};

struct AsyncEngineOptions {
  // Requests accepted but not yet running that may wait at once; Submit beyond it is
  // RESOURCE_EXHAUSTED.
  int64_t max_queue = 256;
  // Called on the engine thread after every turn of its loop.
  std::function<void(const EngineLoopReport&)> on_loop;
};

// The thread-safe front of LLMEngine (which is not): one engine thread owns the engine
// and runs Step() while there is work; any thread may submit and cancel requests, whose
// outputs come back through per-request callbacks on a delivery thread, so that writing
// 64 streams' responses (about 1 ms) overlaps the next step instead of preceding it.
// Cancellation takes effect before the next step.
class AsyncEngine {
 public:
  AsyncEngine(std::unique_ptr<LLMEngine> engine, AsyncEngineOptions options);
  ~AsyncEngine();  // Stop()
  AsyncEngine(const AsyncEngine&) = delete;
  AsyncEngine& operator=(const AsyncEngine&) = delete;

  // Queues the request and returns the id to cancel it with (the engine's own id; the
  // caller's request.request_id is ignored). RESOURCE_EXHAUSTED when max_queue requests
  // already wait, UNAVAILABLE after Stop(). Validation errors of the engine arrive as the
  // last event.
  absl::StatusOr<std::string> Submit(GenerationRequest request, RequestEventCallback on_event);
  // Finishes the request as cancelled before the next step; unknown or finished ids are
  // ignored.
  void Cancel(const std::string& id);
  // Submit returns UNAVAILABLE from now on; requests already submitted run on (drain).
  void StopAccepting();
  // StopAccepting, and cancels every request before the next step.
  void CancelAll();
  // CancelAll, then joins the engine thread.
  void Stop();

  // Requests submitted and not yet finished (their last event not yet delivered).
  int64_t num_unfinished() const;
  EngineStats stats() const;

  // Immutable after construction, safe from any thread.
  const ModelConfig& model_config() const { return model_config_; }
  const Tokenizer* tokenizer() const { return tokenizer_; }
  const EngineConfig& config() const { return config_; }
  int64_t num_kv_cache_blocks() const { return num_kv_cache_blocks_; }

 private:
  struct Pending {
    GenerationRequest request;
    RequestEventCallback on_event;
    Clock::time_point arrival;
  };
  struct Active {
    std::shared_ptr<const RequestEventCallback> on_event;
    Clock::time_point arrival;
    Clock::time_point accepted;
    std::optional<Clock::time_point> first_token;
  };

  void Loop();
  void Admit(std::vector<Pending> pending);
  // An event with the callback it goes to, prepared on the engine thread.
  struct Delivery {
    std::shared_ptr<const RequestEventCallback> on_event;
    RequestEvent event;
  };
  void Deliver(std::vector<RequestOutput> outputs);
  void DeliverOne(RequestEvent event);
  // The bookkeeping of one event on the engine thread (timings, the request's end).
  std::optional<Delivery> Prepare(RequestEvent event);
  // Runs the callbacks on the delivery thread, in order.
  void Post(std::vector<Delivery> deliveries);
  void AbortAll();
  // Ends the requests of a failed step with its error; the others go on.
  void FailStepRequests(const absl::Status& status);
  void Publish(const EngineLoopReport& report);

  // Written at construction only.
  ModelConfig model_config_;
  const Tokenizer* tokenizer_;
  EngineConfig config_;
  int64_t num_kv_cache_blocks_;
  AsyncEngineOptions options_;

  // Touched by the engine thread only.
  std::unique_ptr<LLMEngine> engine_;
  std::map<std::string, Active> active_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Pending> inbox_;
  std::vector<std::string> cancels_;
  int64_t admitting_ = 0;  // taken from the inbox, not yet in stats_.waiting
  bool accepting_ = true;
  bool cancel_all_ = false;  // a CancelAll the engine thread has not applied yet
  bool stopping_ = false;
  int64_t next_id_ = 0;
  int64_t unfinished_ = 0;
  EngineStats stats_;

  // One worker: callbacks run in the order they were posted.
  std::unique_ptr<c10::ThreadPool> delivery_;
  std::thread thread_;
};

}  // namespace deltaserve
