// deltaserve-bench: a load generator. N concurrent clients (--concurrency) or a Poisson
// arrival rate (--request-rate), fixed, uniform or listed request lengths; prints
// throughput and TTFT / time-per-output-token / end-to-end percentiles as a table and as
// JSON, and the decode throughput while every request is running. Requests stream
// greedy tokens with ignore_eos so that every one generates exactly its output length.

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/decode_window.h"
#include "client/deltaserve_client.h"
#include "client/load_spec.h"
#include "client/security_flags.h"
#include "engine/util/command_line.h"
#include <nlohmann/json.hpp>

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address host:port");
ABSL_FLAG(int64_t, num_requests, 64, "requests to send");
ABSL_FLAG(int64_t, concurrency, 1, "clients sending back to back (ignored with --request-rate)");
ABSL_FLAG(double, request_rate, 0, "Poisson arrivals per second (0: use --concurrency)");
ABSL_FLAG(int64_t, prompt_len, 128, "prompt tokens (the minimum with --prompt-len-max)");
ABSL_FLAG(int64_t, prompt_len_max, 0, "draw prompt lengths uniformly up to this (0: fixed)");
ABSL_FLAG(int64_t, output_len, 128, "generated tokens (the minimum with --output-len-max)");
ABSL_FLAG(int64_t, output_len_max, 0, "draw output lengths uniformly up to this (0: fixed)");
ABSL_FLAG(std::string, lengths_file, "", "file of 'prompt_tokens output_tokens' lines, used in order");
ABSL_FLAG(std::string, attention_mode, "", "dense|sparse|recompute|delta (default: the server's)");
ABSL_FLAG(uint64_t, seed, 0, "seed of prompt tokens, lengths and arrival times");
ABSL_FLAG(std::string, json_out, "", "also write the JSON report to this file");
ABSL_FLAG(std::string, label, "", "free text copied into the report (e.g. the model)");

namespace deltaserve::client {
namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  bool ok = false;
  std::string error;
  int64_t output_tokens = 0;
  double ttft = 0;
  double tpot = 0;
  double e2e = 0;
  std::vector<TokenArrival> arrivals;
};

v1::GenerateRequest MakeRequest(const RequestShape& shape, int64_t vocab_size, v1::AttentionMode mode,
                                std::mt19937_64& rng) {
  v1::GenerateRequest request;
  // Ids 0..2 are special in Llama tokenizers; any other id is a valid prompt token.
  std::uniform_int_distribution<uint32_t> token(3, static_cast<uint32_t>(vocab_size - 1));
  for (int64_t i = 0; i < shape.prompt_tokens; ++i) request.add_prompt_token_ids(token(rng));
  request.mutable_sampling()->set_max_tokens(static_cast<uint32_t>(shape.output_tokens));
  request.mutable_sampling()->set_temperature(0.0f);
  request.mutable_sampling()->set_ignore_eos(true);
  request.mutable_attention()->set_mode(mode);
  return request;
}

double Seconds(Clock::duration duration) { return std::chrono::duration<double>(duration).count(); }

// run_start: the origin of the arrival times, shared by every request of the run.
Sample RunOne(const DeltaServeClient& client, const v1::GenerateRequest& request, Clock::time_point run_start) {
  Sample sample;
  const Clock::time_point start = Clock::now();
  Clock::time_point first = start;
  const absl::Status status = client.GenerateStream(request, [&](const v1::GenerateStreamResponse& message) {
    if (message.token_ids_size() == 0) return;
    const Clock::time_point now = Clock::now();
    if (sample.output_tokens == 0) first = now;
    sample.output_tokens += message.token_ids_size();
    sample.arrivals.push_back({Seconds(now - run_start), message.token_ids_size()});
  });
  const Clock::time_point end = Clock::now();
  sample.ok = status.ok();
  if (!status.ok()) sample.error = absl::StatusCodeToString(status.code());
  sample.ttft = Seconds(first - start);
  sample.e2e = Seconds(end - start);
  if (sample.output_tokens > 1) sample.tpot = (sample.e2e - sample.ttft) / static_cast<double>(sample.output_tokens - 1);
  return sample;
}

std::vector<Sample> RunClosedLoop(const DeltaServeClient& client, const std::vector<v1::GenerateRequest>& requests,
                                  int64_t concurrency, Clock::time_point run_start) {
  std::vector<Sample> samples(requests.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int64_t w = 0; w < concurrency; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < requests.size(); i = next++) samples[i] = RunOne(client, requests[i], run_start);
    });
  }
  for (std::thread& worker : workers) worker.join();
  return samples;
}

std::vector<Sample> RunPoisson(const DeltaServeClient& client, const std::vector<v1::GenerateRequest>& requests,
                               double rate, std::mt19937_64& rng, Clock::time_point run_start) {
  std::vector<Sample> samples(requests.size());
  std::vector<std::thread> inflight;
  std::exponential_distribution<double> gap(rate);
  Clock::time_point due = run_start;
  for (size_t i = 0; i < requests.size(); ++i) {
    std::this_thread::sleep_until(due);
    inflight.emplace_back([&, i] { samples[i] = RunOne(client, requests[i], run_start); });
    due += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
  }
  for (std::thread& thread : inflight) thread.join();
  return samples;
}

nlohmann::json ToJson(const Percentiles& p) {
  return {{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"count", p.count}};
}

nlohmann::json Report(const std::vector<Sample>& samples, double wall_seconds) {
  std::vector<double> ttft, tpot, e2e;
  int64_t tokens = 0, errors = 0;
  nlohmann::json error_codes = nlohmann::json::object();
  std::vector<std::vector<TokenArrival>> arrivals;
  for (const Sample& sample : samples) {
    arrivals.push_back(sample.arrivals);
    if (!sample.ok) {
      ++errors;
      error_codes[sample.error] = error_codes.value(sample.error, 0) + 1;
      continue;
    }
    tokens += sample.output_tokens;
    ttft.push_back(sample.ttft);
    e2e.push_back(sample.e2e);
    if (sample.output_tokens > 1) tpot.push_back(sample.tpot);
  }
  const double ok = static_cast<double>(samples.size() - static_cast<size_t>(errors));
  // generated_tokens_per_second includes every prefill; this is the decode-only rate.
  const DecodeWindow decode = AllRunningDecodeWindow(arrivals);
  return {{"label", absl::GetFlag(FLAGS_label)},
          {"num_requests", samples.size()},
          {"concurrency", absl::GetFlag(FLAGS_request_rate) > 0 ? 0 : absl::GetFlag(FLAGS_concurrency)},
          {"request_rate", absl::GetFlag(FLAGS_request_rate)},
          {"wall_seconds", wall_seconds},
          {"requests_per_second", ok / wall_seconds},
          {"generated_tokens_per_second", static_cast<double>(tokens) / wall_seconds},
          {"decode_tokens_per_second", decode.tokens_per_second},
          {"decode_window_seconds", decode.seconds},
          {"decode_window_tokens", decode.tokens},
          {"errors", errors},
          {"error_codes", error_codes},
          {"ttft_seconds", ToJson(Summarize(ttft))},
          {"tpot_seconds", ToJson(Summarize(tpot))},
          {"e2e_seconds", ToJson(Summarize(e2e))}};
}

void PrintTable(const nlohmann::json& report) {
  std::cout << absl::StrFormat("requests %d  errors %d  wall %.2f s  %.2f req/s  %.1f generated tok/s\n",
                               report["num_requests"].get<int64_t>(), report["errors"].get<int64_t>(),
                               report["wall_seconds"].get<double>(), report["requests_per_second"].get<double>(),
                               report["generated_tokens_per_second"].get<double>());
  if (report["decode_window_seconds"].get<double>() > 0) {
    std::cout << absl::StrFormat("decode, all requests running: %.1f tok/s (%d tokens in %.3f s)\n",
                                 report["decode_tokens_per_second"].get<double>(),
                                 report["decode_window_tokens"].get<int64_t>(),
                                 report["decode_window_seconds"].get<double>());
  } else {
    std::cout << "decode, all requests running: n/a (no interval of two steps in which all were decoding)\n";
  }
  std::cout << absl::StrFormat("%-14s %10s %10s %10s %10s\n", "metric (ms)", "mean", "p50", "p90", "p99");
  for (const char* key : {"ttft_seconds", "tpot_seconds", "e2e_seconds"}) {
    const nlohmann::json& p = report[key];
    std::cout << absl::StrFormat("%-14s %10.2f %10.2f %10.2f %10.2f\n", std::string(key).substr(0, 4),
                                 1e3 * p["mean"].get<double>(), 1e3 * p["p50"].get<double>(),
                                 1e3 * p["p90"].get<double>(), 1e3 * p["p99"].get<double>());
  }
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "deltaserve-bench [--target HOST:PORT] [--num-requests N] (--concurrency C | --request-rate R) "
      "[--prompt-len P [--prompt-len-max P2]] [--output-len O [--output-len-max O2]] [--lengths-file F] "
      "[--json-out FILE] [--tls-ca-file F [--tls-cert-file F --tls-key-file F]] [--auth-token-file F]");
  ParseDashedCommandLine(argc, argv);
  absl::StatusOr<ClientSecurity> security = ClientSecurityFromFlags();
  if (!security.ok()) {
    std::cerr << "deltaserve-bench: " << security.status().message() << "\n";
    return 1;
  }
  const DeltaServeClient client(absl::GetFlag(FLAGS_target), absl::InfiniteDuration(), *security);
  absl::StatusOr<v1::GetModelInfoResponse> info = client.GetModelInfo();
  if (!info.ok()) {
    std::cerr << "deltaserve-bench: model-info: " << info.status() << "\n";
    return 1;
  }
  LengthSpec spec;
  spec.prompt_min = absl::GetFlag(FLAGS_prompt_len);
  spec.prompt_max = std::max(spec.prompt_min, absl::GetFlag(FLAGS_prompt_len_max));
  spec.output_min = absl::GetFlag(FLAGS_output_len);
  spec.output_max = std::max(spec.output_min, absl::GetFlag(FLAGS_output_len_max));
  spec.file = absl::GetFlag(FLAGS_lengths_file);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  absl::StatusOr<std::vector<RequestShape>> shapes = DrawShapes(spec, absl::GetFlag(FLAGS_num_requests), rng);
  if (!shapes.ok()) {
    std::cerr << "deltaserve-bench: " << shapes.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<v1::AttentionMode> mode = AttentionModeFromName(absl::GetFlag(FLAGS_attention_mode));
  if (!mode.ok()) {
    std::cerr << "deltaserve-bench: " << mode.status().message() << "\n";
    return 1;
  }
  std::vector<v1::GenerateRequest> requests;
  for (const RequestShape& shape : *shapes) requests.push_back(MakeRequest(shape, info->vocab_size(), *mode, rng));

  const Clock::time_point start = Clock::now();
  const double rate = absl::GetFlag(FLAGS_request_rate);
  const std::vector<Sample> samples =
      rate > 0 ? RunPoisson(client, requests, rate, rng, start)
               : RunClosedLoop(client, requests, std::max<int64_t>(1, absl::GetFlag(FLAGS_concurrency)), start);
  const nlohmann::json report = Report(samples, Seconds(Clock::now() - start));
  PrintTable(report);
  std::cout << report.dump() << "\n";
  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
  return report["errors"].get<int64_t>() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace deltaserve::client

int main(int argc, char** argv) { return deltaserve::client::Run(argc, argv); }
