#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "engine/runtime/async_engine.h"

namespace deltaserve::server {

// How one request ended, as the metrics see it.
struct RequestRecord {
  std::string status;  // gRPC status code name in lower case, e.g. "ok", "invalid_argument"
  FinishReason finish_reason = FinishReason::kNone;
  bool reached_engine = false;  // false: refused before it ran; no tokens or timings
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  RequestTimings timings;
};

// The deltaserve_* metrics of DESIGN.md over one prometheus registry. Thread-safe.
class ServerMetrics {
 public:
  explicit ServerMetrics(const std::string& version);

  // Also observes the step's prefill attention time and accuracy samples.
  void ObserveLoop(const EngineLoopReport& report);
  void ObserveRequest(const RequestRecord& record);
  // The Prometheus text exposition of every metric.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram& time_to_first_token_;
  prometheus::Histogram& time_per_output_token_;
  prometheus::Histogram& request_duration_;
  prometheus::Histogram& queue_wait_;
  prometheus::Histogram& step_duration_;
  prometheus::Histogram& step_forward_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& generation_tokens_;
  prometheus::Counter& preemptions_;
  prometheus::Counter& passes_launched_ahead_;
  prometheus::Counter& prefix_cache_hits_;
  prometheus::Counter& prefix_cache_queries_;
  prometheus::Gauge& requests_running_;
  prometheus::Gauge& requests_waiting_;
  prometheus::Gauge& kv_cache_usage_;
  // By attention mode (AttentionMode's value) and by cosine kind, registered up front.
  std::vector<prometheus::Histogram*> prefill_attention_;
  prometheus::Histogram& anchor_sparse_cosine_;
  prometheus::Histogram& probe_sparse_cosine_;
  prometheus::Histogram& probe_delta_cosine_;

  // The engine reports running totals; counters advance by the difference.
  std::mutex totals_mutex_;
  EngineStats last_totals_;
};

}  // namespace deltaserve::server
