#pragma once

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deltaserve/v1/generate_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace deltaserve::client {

// How the client proves itself and checks the server. All empty: plaintext, no token.
struct ClientSecurity {
  bool tls = false;
  std::string ca_pem;    // roots that sign the server's certificate (empty: the system's)
  std::string cert_pem;  // client certificate and key, for servers that require one (mTLS)
  std::string key_pem;
  std::string auth_token;  // sent as "authorization: Bearer <token>" on every call
};

// A blocking C++ client of one deltaserve server. Thread-safe: calls from many threads
// share one channel.
class DeltaServeClient {
 public:
  // target: "host:port". timeout bounds every call (infinite: no deadline).
  explicit DeltaServeClient(const std::string& target, absl::Duration timeout = absl::InfiniteDuration(),
                            const ClientSecurity& security = {});

  absl::StatusOr<v1::GenerateResponse> Generate(const v1::GenerateRequest& request) const;
  // Calls on_message for every streamed message as it arrives; the last one carries the
  // finish reason, usage and timings. Returns the call's status.
  absl::Status GenerateStream(const v1::GenerateRequest& request,
                              const std::function<void(const v1::GenerateStreamResponse&)>& on_message) const;
  absl::StatusOr<v1::TokenizeResponse> Tokenize(const v1::TokenizeRequest& request) const;
  absl::StatusOr<v1::DetokenizeResponse> Detokenize(const v1::DetokenizeRequest& request) const;
  absl::StatusOr<v1::GetModelInfoResponse> GetModelInfo() const;
  // grpc.health.v1 status of `service` ("" is the whole server).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> Health(const std::string& service = "") const;

 private:
  void Prepare(grpc::ClientContext& context) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::GenerateService::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  absl::Duration timeout_;
  std::string authorization_;  // the metadata value; empty: none
};

absl::Status FromGrpcStatus(const grpc::Status& status);

// "dense" -> ATTENTION_MODE_DENSE, ...; "" -> ATTENTION_MODE_UNSPECIFIED (the server's
// default); INVALID_ARGUMENT naming --attention-mode otherwise.
absl::StatusOr<v1::AttentionMode> AttentionModeFromName(const std::string& name);

}  // namespace deltaserve::client
