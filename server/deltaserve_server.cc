#include "server/deltaserve_server.h"

#include <string>
#include <thread>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"

namespace deltaserve::server {
namespace {

// Linking gRPC's reflection library registers its plugin for every server builder; the
// health port is to serve nothing but health, so its builder drops all plugins.
class NoPluginsOption final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override { plugins->clear(); }
};

std::string HostPort(const ListenAddress& address) { return absl::StrCat(address.host, ":", address.port); }

// The plaintext health-only server; gRPC adds the default health service by itself.
// gRPC builds no server without a method of its own to poll for, so `unimplemented`
// (gRPC's default generic handler: UNIMPLEMENTED for any method) stands in for one.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthServer(const ListenAddress& address,
                                                               grpc::CallbackGenericService& unimplemented,
                                                               int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(HostPort(address), grpc::InsecureServerCredentials(), port);
  builder.SetOption(std::make_unique<NoPluginsOption>());
  builder.RegisterCallbackGenericService(&unimplemented);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || *port == 0) {
    return absl::UnavailableError(
        absl::StrCat("--health-listen: cannot listen on ", HostPort(address), " (in use or not local?)"));
  }
  return server;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeltaServer>> DeltaServer::Start(const ServerOptions& options) {
  std::unique_ptr<DeltaServer> server(new DeltaServer());
  server->metrics_ = std::make_unique<ServerMetrics>(DELTASERVE_VERSION);
  server->service_ =
      std::make_unique<GenerateServiceImpl>(*server->metrics_, BearerTokenAuth(options.security.auth_token));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(HostPort(options.listen), MainPortCredentials(options.security), &server->grpc_port_);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.RegisterService(server->service_.get());
  server->grpc_ = builder.BuildAndStart();
  if (server->grpc_ == nullptr || server->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("--listen: cannot listen on ", HostPort(options.listen),
                                               options.security.tls()
                                                   ? " (in use, not local, or the TLS certificate and key do not load?)"
                                                   : " (in use or not local?)"));
  }
  if (options.health_listen.has_value()) {
    DS_ASSIGN_OR_RETURN(server->health_grpc_, StartHealthServer(*options.health_listen, server->health_unimplemented_,
                                                                  &server->health_port_));
  }
  server->SetServing(false);

  ServerMetrics* metrics = server->metrics_.get();
  DS_ASSIGN_OR_RETURN(server->metrics_http_,
                      MetricsHttpServer::Start(options.metrics_listen, [metrics] { return metrics->Serialize(); }));
  return server;
}

DeltaServer::~DeltaServer() { Drain(absl::ZeroDuration()); }

absl::Status DeltaServer::LoadModel(ModelSource source, const ModelOptions& options) {
  auto model = std::make_shared<ServingModel>();
  model->description = source.description;
  model->default_attention_mode = options.default_attention.mode;
  DS_ASSIGN_OR_RETURN(std::unique_ptr<LLMEngine> engine,
                      LLMEngine::Create(std::move(source.config), std::move(source.weights), source.tokenizer,
                                        options.engine));
  AsyncEngineOptions engine_options;
  engine_options.max_queue = options.max_queue;
  ServerMetrics* metrics = metrics_.get();
  engine_options.on_loop = [metrics](const EngineLoopReport& report) { metrics->ObserveLoop(report); };
  model->engine = std::make_unique<AsyncEngine>(std::move(engine), std::move(engine_options));
  model->num_kv_cache_blocks = model->engine->num_kv_cache_blocks();
  RequestLimits& limits = model->limits;
  limits.tokenizer = model->engine->tokenizer();
  limits.vocab_size = model->engine->model_config().vocab_size;
  limits.max_model_len = model->engine->config().max_model_len;
  limits.max_logprobs = model->engine->config().max_logprobs;
  limits.default_sampling = options.default_sampling;
  limits.default_attention = options.default_attention;
  model_ = model;
  service_->SetModel(std::move(model));
  SetServing(true);
  return absl::OkStatus();
}

void DeltaServer::SetServing(bool serving) {
  grpc_->GetHealthCheckService()->SetServingStatus(serving);
  if (health_grpc_ != nullptr) health_grpc_->GetHealthCheckService()->SetServingStatus(serving);
}

void DeltaServer::Drain(absl::Duration timeout) {
  if (drained_ || grpc_ == nullptr) return;
  drained_ = true;
  SetServing(false);
  if (model_ != nullptr) {
    model_->engine->StopAccepting();
    const absl::Time give_up = absl::Now() + timeout;
    while (model_->engine->num_unfinished() > 0 && absl::Now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    model_->engine->CancelAll();
  }
  // Cancelled requests finish within one engine step; gRPC waits for their reactors and
  // cancels whatever is left (calls that never reached the engine) after one more second.
  const auto shutdown_deadline = std::chrono::system_clock::now() + std::chrono::seconds(1);
  grpc_->Shutdown(shutdown_deadline);
  if (health_grpc_ != nullptr) health_grpc_->Shutdown(shutdown_deadline);
  if (model_ != nullptr) model_->engine->Stop();
  metrics_http_.reset();
}

}  // namespace deltaserve::server
