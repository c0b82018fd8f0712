// The main gRPC port over TLS (--tls-cert-file / --tls-key-file) and mTLS
// (--tls-client-ca-file): clients with the CA get through, plaintext clients and clients
// without a required certificate do not; the plaintext health port answers kubelet's
// probes with the main port's serving status and serves nothing else.

#include <gtest/gtest.h>

#include "tests/server/secured_server.h"

namespace deltaserve::testing {
namespace {

using grpc::health::v1::HealthCheckResponse;

constexpr absl::Duration kTimeout = absl::Seconds(10);

// One TLS server per suite (certificates take a while to make); kRequireClientCertificates
// turns it into mTLS. Both carry the plaintext health port.
template <bool kRequireClientCertificates>
class TlsServerSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certificates_ = new TestCertificates();
    server::ServerOptions options;
    options.security = ServerTls(*certificates_, kRequireClientCertificates);
    options.health_listen = server::ListenAddress{};
    server_ = StartSecuredServer(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete certificates_;
  }

  static TestCertificates* certificates_;
  static server::DeltaServer* server_;
};
template <bool kRequireClientCertificates>
TestCertificates* TlsServerSuite<kRequireClientCertificates>::certificates_ = nullptr;
template <bool kRequireClientCertificates>
server::DeltaServer* TlsServerSuite<kRequireClientCertificates>::server_ = nullptr;

using Tls = TlsServerSuite<false>;
using MutualTls = TlsServerSuite<true>;

TEST_F(Tls, ClientTrustingTheCaGeneratesAndStreams) {
  ASSERT_NE(server_, nullptr);
  const client::DeltaServeClient client(Target(*server_), kTimeout, TrustingClient(*certificates_, false));
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(GreedyRequest({1, 403}, 4));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->token_ids_size(), 4);
  int streamed = 0;
  const absl::Status streamed_status = client.GenerateStream(
      GreedyRequest({1, 403}, 4), [&](const v1::GenerateStreamResponse& message) { streamed += message.token_ids_size(); });
  EXPECT_TRUE(streamed_status.ok()) << streamed_status;
  EXPECT_EQ(streamed, 4);
}

TEST_F(Tls, PlaintextClientIsRefused) {
  ASSERT_NE(server_, nullptr);
  const client::DeltaServeClient plaintext(Target(*server_), kTimeout);
  EXPECT_EQ(plaintext.Generate(GreedyRequest({1}, 2)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(plaintext.Health().ok());
}

TEST_F(Tls, ClientThatDoesNotTrustTheCaIsRefused) {
  ASSERT_NE(server_, nullptr);
  client::ClientSecurity system_roots;
  system_roots.tls = true;
  const client::DeltaServeClient client(Target(*server_), kTimeout, system_roots);
  EXPECT_EQ(client.Generate(GreedyRequest({1}, 2)).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(Tls, HealthPortAnswersServingOverPlaintextAndServesNothingElse) {
  ASSERT_NE(server_, nullptr);
  ASSERT_NE(server_->health_port(), 0);
  ASSERT_NE(server_->health_port(), server_->grpc_port());
  const client::DeltaServeClient probe("127.0.0.1:" + std::to_string(server_->health_port()), kTimeout);
  absl::StatusOr<HealthCheckResponse::ServingStatus> status = probe.Health();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, HealthCheckResponse::SERVING);
  EXPECT_EQ(probe.Generate(GreedyRequest({1}, 2)).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ListServicesThroughReflection("127.0.0.1:" + std::to_string(server_->health_port())), "");
}

TEST(HealthPort, FollowsTheMainPortFromLoadingToDraining) {
  TestCertificates certificates;
  server::ServerOptions options;
  options.listen = {"127.0.0.1", 0};
  options.metrics_listen = {"127.0.0.1", 0};
  options.health_listen = server::ListenAddress{"127.0.0.1", 0};
  options.security = ServerTls(certificates, /*require_client_certificates=*/false);
  absl::StatusOr<std::unique_ptr<server::DeltaServer>> server = server::DeltaServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const client::DeltaServeClient probe("127.0.0.1:" + std::to_string((*server)->health_port()), kTimeout);
  const client::DeltaServeClient main(Target(**server), kTimeout, TrustingClient(certificates, false));
  EXPECT_EQ(probe.Health().value_or(HealthCheckResponse::UNKNOWN), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(main.Health().value_or(HealthCheckResponse::UNKNOWN), HealthCheckResponse::NOT_SERVING);

  absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_TRUE((*server)->LoadModel(*std::move(source), SmallModelOptions()).ok());
  EXPECT_EQ(probe.Health().value_or(HealthCheckResponse::UNKNOWN), HealthCheckResponse::SERVING);
  EXPECT_EQ(main.Health().value_or(HealthCheckResponse::UNKNOWN), HealthCheckResponse::SERVING);

  (*server)->Drain(absl::ZeroDuration());
  EXPECT_NE(probe.Health().value_or(HealthCheckResponse::UNKNOWN), HealthCheckResponse::SERVING);
}


TEST_F(MutualTls, ClientWithItsCertificateGenerates) {
  ASSERT_NE(server_, nullptr);
  const client::DeltaServeClient client(Target(*server_), kTimeout, TrustingClient(*certificates_, true));
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(GreedyRequest({1, 403}, 4));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->token_ids_size(), 4);
}

TEST_F(MutualTls, ClientWithoutACertificateIsRefused) {
  ASSERT_NE(server_, nullptr);
  const client::DeltaServeClient client(Target(*server_), kTimeout, TrustingClient(*certificates_, false));
  EXPECT_EQ(client.Generate(GreedyRequest({1}, 2)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(client.Health().ok());
}

TEST_F(MutualTls, ClientCertificateFromAnotherCaIsRefused) {
  ASSERT_NE(server_, nullptr);
  const TestCertificates stranger;
  client::ClientSecurity security = TrustingClient(*certificates_, false);
  security.cert_pem = stranger.Read("client.crt");
  security.key_pem = stranger.Read("client.key");
  const client::DeltaServeClient client(Target(*server_), kTimeout, security);
  EXPECT_EQ(client.Generate(GreedyRequest({1}, 2)).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace deltaserve::testing
