// deltaserve-cli and deltaserve-bench reach a server that wants mTLS and a bearer token
// through --tls-ca-file, --tls-cert-file, --tls-key-file and --auth-token-file; without
// the token they report UNAUTHENTICATED, and half-given TLS flags are refused by name.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/server/secured_server.h"
#include "tests/support/subprocess.h"

namespace deltaserve::testing {
namespace {

class SecuredCommandLineClients : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certificates_ = new TestCertificates();
    certificates_->WriteFile("token", "cli-test-token\n");
    server::ServerOptions options;
    options.security = ServerTls(*certificates_, /*require_client_certificates=*/true);
    options.security.auth_token = "cli-test-token";
    server_ = StartSecuredServer(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete certificates_;
  }

  // binary --target SERVER [the TLS flags] args...; with_token adds --auth-token-file.
  static CommandResult Run(const char* binary, bool with_token, const std::vector<std::string>& args) {
    std::vector<std::string> command = {binary,
                                        "--target",
                                        Target(*server_),
                                        "--tls-ca-file",
                                        certificates_->Path("ca.crt"),
                                        "--tls-cert-file",
                                        certificates_->Path("client.crt"),
                                        "--tls-key-file",
                                        certificates_->Path("client.key")};
    if (with_token) command.insert(command.end(), {"--auth-token-file", certificates_->Path("token")});
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command);
  }

  static TestCertificates* certificates_;
  static server::DeltaServer* server_;
};
TestCertificates* SecuredCommandLineClients::certificates_ = nullptr;
server::DeltaServer* SecuredCommandLineClients::server_ = nullptr;

TEST_F(SecuredCommandLineClients, CliGeneratesAndStreamsWithCertificateAndToken) {
  ASSERT_NE(server_, nullptr);
  for (const char* command : {"generate", "stream"}) {
    const CommandResult result =
        Run(DELTASERVE_CLI, true, {command, "--prompt-ids", "1,403", "--max-tokens", "3", "--temperature", "0"});
    EXPECT_EQ(result.exit_code, 0) << command << ": " << result.err;
    EXPECT_NE(result.err.find("completion_tokens: 3"), std::string::npos) << command << ": " << result.err;
  }
}

TEST_F(SecuredCommandLineClients, CliWithoutTokenIsUnauthenticatedButHealthAnswers) {
  ASSERT_NE(server_, nullptr);
  const CommandResult generate = Run(DELTASERVE_CLI, false, {"generate", "--prompt-ids", "1", "--max-tokens", "2"});
  EXPECT_EQ(generate.exit_code, 1);
  EXPECT_NE(generate.err.find("UNAUTHENTICATED"), std::string::npos) << generate.err;
  const CommandResult health = Run(DELTASERVE_CLI, false, {"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");
}

TEST_F(SecuredCommandLineClients, BenchRunsWithCertificateAndToken) {
  ASSERT_NE(server_, nullptr);
  const CommandResult result = Run(DELTASERVE_BENCH, true,
                                   {"--num-requests", "4", "--concurrency", "2", "--prompt-len", "8", "--output-len", "3"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out.substr(result.out.rfind("\n{") + 1));
  EXPECT_EQ(report["errors"], 0);
  EXPECT_EQ(report["e2e_seconds"]["count"], 4);
}

TEST_F(SecuredCommandLineClients, HalfGivenOrUnreadableFlagsAreRefusedByName) {
  const CommandResult no_key = RunCommand(
      {DELTASERVE_CLI, "--tls-cert-file", certificates_->Path("client.crt"), "health"});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("--tls-cert-file and --tls-key-file: give both or neither"), std::string::npos)
      << no_key.err;
  const std::string missing = certificates_->Path("missing");
  const CommandResult no_ca = RunCommand({DELTASERVE_BENCH, "--tls-ca-file", missing});
  EXPECT_EQ(no_ca.exit_code, 1);
  EXPECT_NE(no_ca.err.find("--tls-ca-file: cannot read " + missing), std::string::npos) << no_ca.err;
  const CommandResult no_token = RunCommand({DELTASERVE_CLI, "--auth-token-file", missing, "health"});
  EXPECT_EQ(no_token.exit_code, 1);
  EXPECT_NE(no_token.err.find("--auth-token-file: cannot read " + missing), std::string::npos) << no_token.err;
}

}  // namespace
}  // namespace deltaserve::testing
