#include "client/deltaserve_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace deltaserve::client {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  // gRPC and absl share the canonical code numbers.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::StatusOr<v1::AttentionMode> AttentionModeFromName(const std::string& name) {
  v1::AttentionMode mode = v1::ATTENTION_MODE_UNSPECIFIED;
  if (name.empty()) return mode;
  if (!v1::AttentionMode_Parse(absl::StrCat("ATTENTION_MODE_", absl::AsciiStrToUpper(name)), &mode) ||
      mode == v1::ATTENTION_MODE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat("--attention-mode: unknown value '", name, "' (expected dense, sparse, recompute or delta)"));
  }
  return mode;
}

namespace {

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClientSecurity& security) {
  if (!security.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = security.ca_pem;
  options.pem_cert_chain = security.cert_pem;
  options.pem_private_key = security.key_pem;
  return grpc::SslCredentials(options);
}

}  // namespace

DeltaServeClient::DeltaServeClient(const std::string& target, absl::Duration timeout, const ClientSecurity& security)
    : channel_(grpc::CreateChannel(target, ChannelCredentials(security))),
      stub_(v1::GenerateService::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)),
      timeout_(timeout),
      authorization_(security.auth_token.empty() ? "" : absl::StrCat("Bearer ", security.auth_token)) {}

void DeltaServeClient::Prepare(grpc::ClientContext& context) const {
  if (timeout_ != absl::InfiniteDuration()) context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  // Plain metadata rather than call credentials: gRPC refuses call credentials on a
  // plaintext channel, and a token behind a TLS-terminating proxy is a real setup.
  if (!authorization_.empty()) context.AddMetadata("authorization", authorization_);
}

absl::StatusOr<v1::GenerateResponse> DeltaServeClient::Generate(const v1::GenerateRequest& request) const {
  grpc::ClientContext context;
  Prepare(context);
  v1::GenerateResponse response;
  const grpc::Status status = stub_->Generate(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::Status DeltaServeClient::GenerateStream(
    const v1::GenerateRequest& request,
    const std::function<void(const v1::GenerateStreamResponse&)>& on_message) const {
  grpc::ClientContext context;
  Prepare(context);
  v1::GenerateStreamRequest stream_request;
  *stream_request.mutable_request() = request;
  std::unique_ptr<grpc::ClientReader<v1::GenerateStreamResponse>> reader =
      stub_->GenerateStream(&context, stream_request);
  v1::GenerateStreamResponse message;
  while (reader->Read(&message)) on_message(message);
  return FromGrpcStatus(reader->Finish());
}

absl::StatusOr<v1::TokenizeResponse> DeltaServeClient::Tokenize(const v1::TokenizeRequest& request) const {
  grpc::ClientContext context;
  Prepare(context);
  v1::TokenizeResponse response;
  const grpc::Status status = stub_->Tokenize(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::DetokenizeResponse> DeltaServeClient::Detokenize(const v1::DetokenizeRequest& request) const {
  grpc::ClientContext context;
  Prepare(context);
  v1::DetokenizeResponse response;
  const grpc::Status status = stub_->Detokenize(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::GetModelInfoResponse> DeltaServeClient::GetModelInfo() const {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetModelInfoResponse response;
  const grpc::Status status = stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> DeltaServeClient::Health(
    const std::string& service) const {
  grpc::ClientContext context;
  Prepare(context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = health_->Check(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response.status();
}

}  // namespace deltaserve::client
