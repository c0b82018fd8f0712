// The real binary refuses half-given or unreadable TLS and token settings at start-up:
// exit code non-zero and a message naming the flag, before any port is opened or the
// model is loaded. With all of them right it serves over TLS with the token.

#include <regex>

#include <gtest/gtest.h>

#include "tests/server/secured_server.h"
#include "tests/support/background_process.h"
#include "tests/support/subprocess.h"

namespace deltaserve::testing {
namespace {

class SecurityFlags : public ::testing::Test {
 protected:
  // deltaserve on stories260K on free loopback ports, plus `flags`.
  static std::vector<std::string> Command(const std::vector<std::string>& flags) {
    std::vector<std::string> command = {DELTASERVE_BINARY, "--model", Stories260KDir(), "--listen", "127.0.0.1:0",
                                        "--metrics-listen", "127.0.0.1:0", "--kv-cache-bytes", "16777216"};
    command.insert(command.end(), flags.begin(), flags.end());
    return command;
  }

  void ExpectRefused(const std::vector<std::string>& flags, const std::string& message) {
    const CommandResult result = RunCommand(Command(flags));
    EXPECT_NE(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << "wanted '" << message << "' in: " << result.err;
  }

  TestCertificates certificates_;
};

TEST_F(SecurityFlags, CertificateAndKeyComeTogether) {
  ExpectRefused({"--tls-cert-file", certificates_.Path("server.crt")}, "--tls-cert-file needs --tls-key-file");
  ExpectRefused({"--tls-key-file", certificates_.Path("server.key")}, "--tls-key-file needs --tls-cert-file");
}

TEST_F(SecurityFlags, ClientCaNeedsTls) {
  ExpectRefused({"--tls-client-ca-file", certificates_.Path("ca.crt")}, "--tls-client-ca-file needs --tls-cert-file");
}

TEST_F(SecurityFlags, UnreadableOrEmptyFilesNameTheirFlag) {
  const std::string missing = certificates_.Path("missing.pem");
  ExpectRefused({"--tls-cert-file", missing, "--tls-key-file", certificates_.Path("server.key")},
                "--tls-cert-file: cannot read " + missing);
  ExpectRefused({"--tls-cert-file", certificates_.Path("server.crt"), "--tls-key-file", missing},
                "--tls-key-file: cannot read " + missing);
  ExpectRefused({"--tls-cert-file", certificates_.Path("server.crt"), "--tls-key-file",
                 certificates_.Path("server.key"), "--tls-client-ca-file", missing},
                "--tls-client-ca-file: cannot read " + missing);
  ExpectRefused({"--auth-token-file", missing}, "--auth-token-file: cannot read " + missing);
  const std::string blank = certificates_.WriteFile("blank-token", " \n");
  ExpectRefused({"--auth-token-file", blank}, "--auth-token-file: " + blank + " holds only whitespace");
}

TEST_F(SecurityFlags, CertificateThatDoesNotLoadStopsTheStart) {
  const std::string not_pem = certificates_.WriteFile("not.pem", "not a certificate\n");
  ExpectRefused({"--tls-cert-file", not_pem, "--tls-key-file", not_pem}, "--listen: cannot listen");
}

TEST_F(SecurityFlags, BadHealthListenNamesTheFlag) { ExpectRefused({"--health-listen", "nowhere"}, "--health-listen"); }

TEST_F(SecurityFlags, AllGivenServesTlsWithTokenAndPlaintextHealth) {
  const std::string token_file = certificates_.WriteFile("token", "binary-test-token\n");
  BackgroundProcess server(Command({"--tls-cert-file", certificates_.Path("server.crt"), "--tls-key-file",
                                    certificates_.Path("server.key"), "--tls-client-ca-file",
                                    certificates_.Path("ca.crt"), "--auth-token-file", token_file,
                                    "--health-listen", "127.0.0.1:0"}));
  const std::optional<std::string> log = server.AwaitStderr("deltaserve: serving", std::chrono::seconds(60));
  ASSERT_TRUE(log.has_value()) << server.stderr_text();
  EXPECT_NE(log->find("gRPC over mTLS, bearer token required"), std::string::npos) << *log;
  std::smatch grpc_port;
  std::smatch health_port;
  ASSERT_TRUE(std::regex_search(*log, grpc_port, std::regex("gRPC on 127\\.0\\.0\\.1:([0-9]+)"))) << *log;
  ASSERT_TRUE(std::regex_search(*log, health_port, std::regex("plaintext health on 127\\.0\\.0\\.1:([0-9]+)")))
      << *log;

  client::ClientSecurity security = TrustingClient(certificates_, /*with_client_certificate=*/true);
  security.auth_token = "binary-test-token";
  const client::DeltaServeClient client("127.0.0.1:" + grpc_port[1].str(), absl::Seconds(10), security);
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(GreedyRequest({1, 403}, 3));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->token_ids_size(), 3);
  const client::DeltaServeClient probe("127.0.0.1:" + health_port[1].str(), absl::Seconds(10));
  EXPECT_EQ(probe.Health().value_or(grpc::health::v1::HealthCheckResponse::UNKNOWN),
            grpc::health::v1::HealthCheckResponse::SERVING);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(), 0) << server.stderr_text();
}

}  // namespace
}  // namespace deltaserve::testing
