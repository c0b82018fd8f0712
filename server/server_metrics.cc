#include "server/server_metrics.h"

#include <sstream>
#include <vector>

#include <prometheus/text_serializer.h>

#include "engine/attention/attention_config.h"

namespace deltaserve::server {
namespace {

using prometheus::Histogram;

// Latencies of a CPU or GPU server: 1 ms to 2 min.
const Histogram::BucketBoundaries& LatencyBuckets() {
  static const Histogram::BucketBoundaries buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                   0.5,   1,      2.5,   5,    10,    30,   60,  120};
  return buckets;
}

const Histogram::BucketBoundaries& CosineBuckets() {
  static const Histogram::BucketBoundaries buckets{0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0};
  return buckets;
}

Histogram& AddHistogram(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, LatencyBuckets());
}

prometheus::Counter& AddCounter(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& AddGauge(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

constexpr AttentionMode kAttentionModes[] = {AttentionMode::kDense, AttentionMode::kSparse, AttentionMode::kRecompute,
                                             AttentionMode::kDelta};

// Registered with every label value up front so that dashboards find them before the
// first prefill.
std::vector<Histogram*> AddPrefillAttentionHistograms(prometheus::Registry& registry) {
  auto& family = prometheus::BuildHistogram()
                     .Name("deltaserve_prefill_attention_seconds")
                     .Help("Attention time of one sequence's prefill chunk, summed over layers, by attention mode")
                     .Register(registry);
  std::vector<Histogram*> by_mode;
  for (AttentionMode mode : kAttentionModes) {
    by_mode.push_back(&family.Add({{"mode", std::string(AttentionModeName(mode))}}, LatencyBuckets()));
  }
  return by_mode;
}

// The registry merges the calls for each kind into one family.
Histogram& AddCosineHistogram(prometheus::Registry& registry, const std::string& kind) {
  return prometheus::BuildHistogram()
      .Name("deltaserve_attention_cosine_similarity")
      .Help("Cosine similarity of sparse or delta attention rows to dense ones (mean over heads), by kind")
      .Register(registry)
      .Add({{"kind", kind}}, CosineBuckets());
}

void ObserveAll(Histogram& histogram, const std::vector<double>& values) {
  for (double value : values) histogram.Observe(value);
}

void AdvanceCounter(prometheus::Counter& counter, int64_t previous, int64_t current) {
  if (current > previous) counter.Increment(static_cast<double>(current - previous));
}

}  // namespace

ServerMetrics::ServerMetrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      time_to_first_token_(AddHistogram(*registry_, "deltaserve_time_to_first_token_seconds",
                                        "From arrival to the first generated token")),
      time_per_output_token_(AddHistogram(*registry_, "deltaserve_time_per_output_token_seconds",
                                          "Mean time between generated tokens after the first, per request")),
      request_duration_(AddHistogram(*registry_, "deltaserve_request_duration_seconds",
                                     "From arrival to the last token")),
      queue_wait_(AddHistogram(*registry_, "deltaserve_queue_wait_seconds",
                               "From arrival until the request first runs in the batch")),
      step_duration_(AddHistogram(*registry_, "deltaserve_step_duration_seconds", "One engine step")),
      step_forward_(AddHistogram(*registry_, "deltaserve_step_forward_seconds",
                                 "The model's forward pass within one engine step; the rest is scheduling, "
                                 "sampling and detokenizing")),
      requests_(prometheus::BuildCounter()
                    .Name("deltaserve_requests_total")
                    .Help("Finished generate requests by gRPC status and finish reason")
                    .Register(*registry_)),
      prompt_tokens_(AddCounter(*registry_, "deltaserve_prompt_tokens_total", "Prompt tokens of finished requests")),
      generation_tokens_(AddCounter(*registry_, "deltaserve_generation_tokens_total", "Generated tokens")),
      preemptions_(AddCounter(*registry_, "deltaserve_preemptions_total",
                              "Running sequences preempted (recomputed later) for lack of KV-cache blocks")),
      passes_launched_ahead_(AddCounter(*registry_, "deltaserve_passes_launched_ahead_total",
                                        "Decode passes queued before the previous step's tokens reached the host "
                                        "(--async-scheduling)")),
      prefix_cache_hits_(AddCounter(*registry_, "deltaserve_prefix_cache_hits_total",
                                    "Prompt tokens whose KV-cache blocks were found in the prefix cache")),
      prefix_cache_queries_(AddCounter(*registry_, "deltaserve_prefix_cache_queries_total",
                                       "Prompt tokens looked up in the prefix cache")),
      requests_running_(AddGauge(*registry_, "deltaserve_requests_running", "Sequences in the running batch")),
      requests_waiting_(AddGauge(*registry_, "deltaserve_requests_waiting", "Sequences waiting to be scheduled")),
      kv_cache_usage_(AddGauge(*registry_, "deltaserve_kv_cache_usage_ratio", "Share of KV-cache blocks in use")),
      prefill_attention_(AddPrefillAttentionHistograms(*registry_)),
      anchor_sparse_cosine_(AddCosineHistogram(*registry_, "anchor_sparse")),
      probe_sparse_cosine_(AddCosineHistogram(*registry_, "probe_sparse")),
      probe_delta_cosine_(AddCosineHistogram(*registry_, "probe_delta")) {
  prometheus::BuildGauge()
      .Name("deltaserve_build_info")
      .Help("Always 1; the labels say which build is running")
      .Register(*registry_)
      .Add({{"version", version}, {"backend", "cpu"}})
      .Set(1);
}

void ServerMetrics::ObserveLoop(const EngineLoopReport& report) {
  if (report.step_seconds.has_value()) step_duration_.Observe(*report.step_seconds);
  generation_tokens_.Increment(static_cast<double>(report.generated_tokens));
  requests_running_.Set(static_cast<double>(report.stats.running));
  requests_waiting_.Set(static_cast<double>(report.stats.waiting));
  kv_cache_usage_.Set(report.stats.kv_cache_usage);
  for (const auto& [mode, seconds] : report.attention.prefill_seconds) {
    prefill_attention_[static_cast<size_t>(mode)]->Observe(seconds);
  }
  ObserveAll(anchor_sparse_cosine_, report.attention.cosines.anchor_sparse);
  ObserveAll(probe_sparse_cosine_, report.attention.cosines.probe_sparse);
  ObserveAll(probe_delta_cosine_, report.attention.cosines.probe_delta);
  std::lock_guard<std::mutex> lock(totals_mutex_);
  if (report.step_seconds.has_value()) {
    step_forward_.Observe(report.stats.forward_seconds_total - last_totals_.forward_seconds_total);
  }
  AdvanceCounter(preemptions_, last_totals_.preemptions, report.stats.preemptions);
  AdvanceCounter(passes_launched_ahead_, last_totals_.passes_launched_ahead, report.stats.passes_launched_ahead);
  AdvanceCounter(prefix_cache_hits_, last_totals_.prefix_cache_hits, report.stats.prefix_cache_hits);
  AdvanceCounter(prefix_cache_queries_, last_totals_.prefix_cache_queries, report.stats.prefix_cache_queries);
  last_totals_ = report.stats;
}

void ServerMetrics::ObserveRequest(const RequestRecord& record) {
  requests_.Add({{"status", record.status}, {"finish_reason", std::string(FinishReasonName(record.finish_reason))}})
      .Increment();
  if (!record.reached_engine) return;
  prompt_tokens_.Increment(static_cast<double>(record.prompt_tokens));
  queue_wait_.Observe(record.timings.queue_seconds);
  request_duration_.Observe(record.timings.total_seconds);
  if (record.completion_tokens > 0) time_to_first_token_.Observe(record.timings.time_to_first_token_seconds);
  if (record.completion_tokens > 1) {
    time_per_output_token_.Observe(
        (record.timings.total_seconds - record.timings.time_to_first_token_seconds) /
        static_cast<double>(record.completion_tokens - 1));
  }
}

std::string ServerMetrics::Serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace deltaserve::server
