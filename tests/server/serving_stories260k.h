#pragma once

// A real deltaserve server (in this process, on free loopback ports) serving
// stories260K, and what the tests ask of it over gRPC and HTTP.

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "client/deltaserve_client.h"
#include "engine/runtime/model_source.h"
#include "server/deltaserve_server.h"
#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {

inline server::ModelOptions SmallModelOptions() {
  server::ModelOptions options;
  options.engine.kv_cache_bytes = 16 << 20;
  options.engine.max_num_seqs = 64;
  // ctest runs two test processes at once on two cores: one thread each.
  options.engine.num_threads = 1;
  options.default_attention.mode = AttentionMode::kDense;
  return options;
}

// Starts on 127.0.0.1 ports chosen by the kernel; load=false leaves the model unloaded.
inline std::unique_ptr<server::DeltaServer> StartStories260KServer(const server::ModelOptions& options,
                                                                   bool load = true) {
  server::ServerOptions server_options;
  server_options.listen = {"127.0.0.1", 0};
  server_options.metrics_listen = {"127.0.0.1", 0};
  absl::StatusOr<std::unique_ptr<server::DeltaServer>> server = server::DeltaServer::Start(server_options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  if (load) {
    absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
    EXPECT_TRUE(source.ok()) << source.status();
    if (!source.ok()) return nullptr;
    const absl::Status loaded = (*server)->LoadModel(*std::move(source), options);
    EXPECT_TRUE(loaded.ok()) << loaded;
  }
  return *std::move(server);
}

inline std::string Target(const server::DeltaServer& server) {
  return "127.0.0.1:" + std::to_string(server.grpc_port());
}

inline v1::GenerateRequest GreedyRequest(const std::vector<uint32_t>& prompt_ids, uint32_t max_tokens) {
  v1::GenerateRequest request;
  request.mutable_prompt_token_ids()->Add(prompt_ids.begin(), prompt_ids.end());
  request.mutable_sampling()->set_max_tokens(max_tokens);
  request.mutable_sampling()->set_temperature(0.0f);
  return request;
}

inline std::vector<uint32_t> Ids(const v1::GenerateResponse& response) {
  return {response.token_ids().begin(), response.token_ids().end()};
}

// Every sample of /metrics without labels or with its labels as written, e.g.
// "deltaserve_requests_total{status=\"ok\",finish_reason=\"length\"}" -> 3.
inline std::map<std::string, double> ScrapeMetrics(const server::DeltaServer& server) {
  httplib::Client http("127.0.0.1", server.metrics_port());
  httplib::Result result = http.Get("/metrics");
  std::map<std::string, double> samples;
  EXPECT_TRUE(result) << "GET /metrics failed";
  if (!result) return samples;
  EXPECT_EQ(result->status, 200);
  std::istringstream lines(result->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// Polls /metrics until `name` has `value` or about two seconds passed.
inline double AwaitMetric(const server::DeltaServer& server, const std::string& name, double value) {
  double seen = -1;
  for (int attempt = 0; attempt < 200; ++attempt) {
    seen = ScrapeMetrics(server)[name];
    if (seen == value) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return seen;
}

}  // namespace deltaserve::testing
