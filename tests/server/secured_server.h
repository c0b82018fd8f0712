#pragma once

// A stories260K server on loopback with TLS, a bearer token or a health port, as the
// test's ServerOptions say, and clients that hold (or lack) the matching credentials.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/generic/generic_stub.h>

#include "tests/server/serving_stories260k.h"
#include "tests/server/test_certificates.h"

namespace deltaserve::testing {

// The main port, /metrics and (if asked for) the health port on free loopback ports.
inline std::unique_ptr<server::DeltaServer> StartSecuredServer(server::ServerOptions options) {
  options.listen = {"127.0.0.1", 0};
  options.metrics_listen = {"127.0.0.1", 0};
  if (options.health_listen.has_value()) options.health_listen = server::ListenAddress{"127.0.0.1", 0};
  absl::StatusOr<std::unique_ptr<server::DeltaServer>> server = server::DeltaServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return nullptr;
  const absl::Status loaded = (*server)->LoadModel(*std::move(source), SmallModelOptions());
  EXPECT_TRUE(loaded.ok()) << loaded;
  return *std::move(server);
}

// What a client trusting the test CA holds; with_client_certificate adds client.crt.
inline client::ClientSecurity TrustingClient(const TestCertificates& certificates, bool with_client_certificate) {
  client::ClientSecurity security;
  security.tls = true;
  security.ca_pem = certificates.Read("ca.crt");
  if (with_client_certificate) {
    security.cert_pem = certificates.Read("client.crt");
    security.key_pem = certificates.Read("client.key");
  }
  return security;
}

inline server::ServerSecurity ServerTls(const TestCertificates& certificates, bool require_client_certificates) {
  server::ServerSecurity security;
  security.cert_pem = certificates.Read("server.crt");
  security.key_pem = certificates.Read("server.key");
  if (require_client_certificates) security.client_ca_pem = certificates.Read("ca.crt");
  return security;
}

// The raw reply to a reflection list_services request, or "" when the call fails. Spoken
// through a generic stub: Debian's gRPC ships no generated reflection stubs.
inline std::string ListServicesThroughReflection(const std::string& target) {
  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto call = stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  // ServerReflectionRequest{list_services: ""}: field 7, length-delimited, empty.
  grpc::Slice request_bytes(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&request_bytes, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  bool read = false;
  const auto step = [&queue](auto start) {
    void* tag = nullptr;
    bool ok = false;
    start();
    return queue.Next(&tag, &ok) && ok;
  };
  if (step([&] { call->StartCall(&queue); }) && step([&] { call->Write(request, &queue); }) &&
      step([&] { call->WritesDone(&queue); })) {
    read = step([&] { call->Read(&response, &queue); });
  }
  step([&] { call->Finish(&status, &queue); });
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
  if (!read || !status.ok()) return "";
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return bytes;
}

}  // namespace deltaserve::testing
