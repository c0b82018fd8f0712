#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/runtime/model_source.h"
#include "server/generate_service.h"
#include "server/listen_address.h"
#include "server/metrics_http_server.h"
#include "server/server_security.h"
#include "server/server_metrics.h"

namespace deltaserve::server {

struct ServerOptions {
  ListenAddress listen{"127.0.0.1", 50051};
  ListenAddress metrics_listen{"127.0.0.1", 9090};
  int max_receive_message_bytes = 4 << 20;
  ServerSecurity security;
  // A second, plaintext port serving only grpc.health.v1: kubelet's gRPC probes cannot
  // speak TLS to the main port.
  std::optional<ListenAddress> health_listen;
};

struct ModelOptions {
  EngineConfig engine;
  int64_t max_queue = 256;
  SamplingParams default_sampling;
  AttentionConfig default_attention;
};

// The whole server: gRPC (GenerateService, grpc.health.v1.Health, reflection; TLS and
// a bearer token as options.security says), the optional plaintext health port and the
// /metrics endpoint. Health says NOT_SERVING until LoadModel succeeded and again from
// the start of Drain, on both gRPC ports.
class DeltaServer {
 public:
  static absl::StatusOr<std::unique_ptr<DeltaServer>> Start(const ServerOptions& options);
  ~DeltaServer();  // Drain(0) if still running

  // Builds the engine (and its thread) over source and starts serving it.
  absl::Status LoadModel(ModelSource source, const ModelOptions& options);
  // Stops accepting requests, lets running ones finish for up to `timeout`, cancels the
  // rest and shuts gRPC and /metrics down.
  void Drain(absl::Duration timeout);

  int grpc_port() const { return grpc_port_; }
  int health_port() const { return health_port_; }  // 0 without options.health_listen
  int metrics_port() const { return metrics_http_->port(); }

 private:
  DeltaServer() = default;
  void SetServing(bool serving);

  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<GenerateServiceImpl> service_;
  std::unique_ptr<grpc::Server> grpc_;
  grpc::CallbackGenericService health_unimplemented_;  // outlives health_grpc_
  std::unique_ptr<grpc::Server> health_grpc_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::shared_ptr<ServingModel> model_;
  int grpc_port_ = 0;
  int health_port_ = 0;
  bool drained_ = false;
};

}  // namespace deltaserve::server
