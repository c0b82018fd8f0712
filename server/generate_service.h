#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "deltaserve/v1/generate_service.grpc.pb.h"
#include "engine/runtime/async_engine.h"
#include "server/bearer_token_auth.h"
#include "server/request_from_wire.h"
#include "server/server_metrics.h"

namespace deltaserve::server {

// What the service runs on once the model is loaded.
struct ServingModel {
  std::unique_ptr<AsyncEngine> engine;
  RequestLimits limits;  // limits.tokenizer points into the engine
  std::string description;
  int64_t num_kv_cache_blocks = 0;
  AttentionMode default_attention_mode = AttentionMode::kDelta;
};

// deltaserve.v1.GenerateService on gRPC's callback API: handlers only convert, submit
// to the engine thread and return; outputs come back through the engine's callbacks.
// Every RPC is UNAUTHENTICATED without the bearer token `auth` asks for (checked before
// anything else), and UNAVAILABLE until SetModel.
class GenerateServiceImpl final : public v1::GenerateService::CallbackService {
 public:
  GenerateServiceImpl(ServerMetrics& metrics, BearerTokenAuth auth) : metrics_(metrics), auth_(std::move(auth)) {}

  void SetModel(std::shared_ptr<ServingModel> model) { std::atomic_store(&model_, std::move(model)); }

  grpc::ServerUnaryReactor* Generate(grpc::CallbackServerContext* context, const v1::GenerateRequest* request,
                                     v1::GenerateResponse* response) override;
  grpc::ServerWriteReactor<v1::GenerateStreamResponse>* GenerateStream(
      grpc::CallbackServerContext* context, const v1::GenerateStreamRequest* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context, const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context, const v1::DetokenizeRequest* request,
                                       v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::GetModelInfoResponse* response) override;

 private:
  std::shared_ptr<ServingModel> model() const { return std::atomic_load(&model_); }

  ServerMetrics& metrics_;
  const BearerTokenAuth auth_;
  std::shared_ptr<ServingModel> model_;
};

}  // namespace deltaserve::server
