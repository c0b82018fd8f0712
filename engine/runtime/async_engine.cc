#include "engine/runtime/async_engine.h"

#include <c10/core/thread_pool.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace deltaserve {
namespace {

double SecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

AsyncEngine::AsyncEngine(std::unique_ptr<LLMEngine> engine, AsyncEngineOptions options)
    : model_config_(engine->model_config()),
      tokenizer_(engine->tokenizer()),
      config_(engine->config()),
      num_kv_cache_blocks_(engine->num_kv_cache_blocks()),
      options_(std::move(options)),
      engine_(std::move(engine)),
      stats_(engine_->stats()),
      delivery_(std::make_unique<c10::ThreadPool>(1)) {
  thread_ = std::thread([this] { Loop(); });
}

AsyncEngine::~AsyncEngine() { Stop(); }

absl::StatusOr<std::string> AsyncEngine::Submit(GenerationRequest request, RequestEventCallback on_event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!accepting_) return absl::UnavailableError("the server is shutting down and accepts no new requests");
  // A request waits from Submit until the end of the step that first schedules it.
  const int64_t queued = static_cast<int64_t>(inbox_.size()) + admitting_ + stats_.waiting;
  if (queued >= options_.max_queue) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full: ", queued, " requests wait (max-queue ", options_.max_queue, "); retry later"));
  }
  request.request_id = absl::StrCat(next_id_++);
  std::string id = request.request_id;
  inbox_.push_back(Pending{std::move(request), std::move(on_event), Clock::now()});
  ++unfinished_;
  wake_.notify_one();
  return id;
}

void AsyncEngine::Cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  cancels_.push_back(id);
  wake_.notify_one();
}

void AsyncEngine::StopAccepting() {
  std::lock_guard<std::mutex> lock(mutex_);
  accepting_ = false;
}

void AsyncEngine::CancelAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  accepting_ = false;
  cancel_all_ = true;
  wake_.notify_one();
}

void AsyncEngine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    accepting_ = false;
    cancel_all_ = true;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  delivery_->waitWorkComplete();
}

int64_t AsyncEngine::num_unfinished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return unfinished_;
}

EngineStats AsyncEngine::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void AsyncEngine::Loop() {
  while (true) {
    std::vector<Pending> pending;
    std::vector<std::string> cancels;
    bool cancel_all = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return stopping_ || cancel_all_ || !inbox_.empty() || !cancels_.empty() || engine_->HasUnfinishedRequests();
      });
      pending.swap(inbox_);
      cancels.swap(cancels_);
      cancel_all = cancel_all_;
      cancel_all_ = false;
      admitting_ = static_cast<int64_t>(pending.size());
      if (stopping_ && pending.empty() && !engine_->HasUnfinishedRequests()) break;
    }
    Admit(std::move(pending));
    for (const std::string& id : cancels) Deliver(engine_->Abort(id));
    if (cancel_all) AbortAll();
    if (!engine_->HasUnfinishedRequests()) {
      Publish(EngineLoopReport{engine_->stats(), std::nullopt, 0});
      continue;
    }

    EngineLoopReport report;
    const Clock::time_point start = Clock::now();
    absl::StatusOr<std::vector<RequestOutput>> outputs = engine_->Step();
    report.step_seconds = SecondsBetween(start, Clock::now());
    report.stats = engine_->stats();
    report.attention = engine_->last_step_attention();
    if (!outputs.ok()) {
      Publish(report);
      FailStepRequests(outputs.status());
      continue;
    }
    for (const RequestOutput& output : *outputs) report.generated_tokens += output.token_ids.size();
    // Published before the outputs go out, so that a client holding its response finds
    // the step in the metrics.
    Publish(report);
    Deliver(*std::move(outputs));
  }
}

void AsyncEngine::Admit(std::vector<Pending> pending) {
  for (Pending& item : pending) {
    const std::string id = item.request.request_id;
    const absl::Status added = engine_->AddRequest(std::move(item.request));
    active_.emplace(id, Active{std::make_shared<const RequestEventCallback>(std::move(item.on_event)), item.arrival,
                               Clock::now(), std::nullopt});
    if (!added.ok()) {
      RequestEvent event;
      event.output.request_id = id;
      event.status = added;
      DeliverOne(std::move(event));
    }
  }
}

void AsyncEngine::Deliver(std::vector<RequestOutput> outputs) {
  std::vector<Delivery> deliveries;
  for (RequestOutput& output : outputs) {
    RequestEvent event;
    event.output = std::move(output);
    if (std::optional<Delivery> delivery = Prepare(std::move(event))) deliveries.push_back(*std::move(delivery));
  }
  Post(std::move(deliveries));
}

void AsyncEngine::DeliverOne(RequestEvent event) {
  std::optional<Delivery> delivery = Prepare(std::move(event));
  if (delivery.has_value()) Post({*std::move(delivery)});
}

std::optional<AsyncEngine::Delivery> AsyncEngine::Prepare(RequestEvent event) {
  auto it = active_.find(event.output.request_id);
  if (it == active_.end()) return std::nullopt;
  Active& active = it->second;
  const Clock::time_point now = Clock::now();
  if (!active.first_token.has_value() && !event.output.token_ids.empty()) active.first_token = now;
  Delivery delivery{active.on_event, RequestEvent{}};
  if (event.last()) {
    // The engine thread's inbox, then the scheduler's waiting list.
    event.timings.queue_seconds = SecondsBetween(active.arrival, active.accepted) + event.output.queue_seconds;
    event.timings.time_to_first_token_seconds = SecondsBetween(active.arrival, active.first_token.value_or(now));
    event.timings.total_seconds = SecondsBetween(active.arrival, now);
    active_.erase(it);
  }
  delivery.event = std::move(event);
  return delivery;
}

void AsyncEngine::Post(std::vector<Delivery> deliveries) {
  if (deliveries.empty()) return;
  auto batch = std::make_shared<std::vector<Delivery>>(std::move(deliveries));
  delivery_->run([this, batch] {
    int64_t finished = 0;
    for (Delivery& delivery : *batch) {
      finished += delivery.event.last() ? 1 : 0;
      (*delivery.on_event)(std::move(delivery.event));
    }
    // A request counts as unfinished until its consumer has its last event.
    if (finished == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    unfinished_ -= finished;
  });
}

void AsyncEngine::AbortAll() {
  std::vector<std::string> ids;
  for (const auto& [id, active] : active_) ids.push_back(id);
  for (const std::string& id : ids) Deliver(engine_->Abort(id));
}

void AsyncEngine::FailStepRequests(const absl::Status& status) {
  for (const std::string& id : engine_->last_step_failed_requests()) {
    RequestEvent event;
    event.output.request_id = id;
    event.status = status;
    DeliverOne(std::move(event));
  }
}

void AsyncEngine::Publish(const EngineLoopReport& report) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_ = report.stats;
    admitting_ = 0;
  }
  if (options_.on_loop) options_.on_loop(report);
}

}  // namespace deltaserve
