// --auth-token-file: every GenerateService call needs "authorization: Bearer <token>";
// without it or with another token the call is UNAUTHENTICATED (the message says what is
// wrong and never echoes a token), and counted; health and reflection stay open.

#include <gtest/gtest.h>

#include "tests/server/secured_server.h"

namespace deltaserve::testing {
namespace {

constexpr char kToken[] = "s3cret-t0ken-for-tests";
constexpr absl::Duration kTimeout = absl::Seconds(10);

class BearerToken : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server::ServerOptions options;
    options.security.auth_token = kToken;
    server_ = StartSecuredServer(options).release();
  }
  static void TearDownTestSuite() { delete server_; }

  static client::DeltaServeClient ClientWithToken(const std::string& token) {
    client::ClientSecurity security;
    security.auth_token = token;
    return client::DeltaServeClient(Target(*server_), kTimeout, security);
  }

  // Every GenerateService method, called by `client`; their statuses.
  static std::vector<absl::Status> CallEveryMethod(const client::DeltaServeClient& client) {
    v1::TokenizeRequest tokenize;
    tokenize.set_text("Once");
    v1::DetokenizeRequest detokenize;
    detokenize.add_token_ids(403);
    return {client.Generate(GreedyRequest({1, 403}, 2)).status(),
            client.GenerateStream(GreedyRequest({1, 403}, 2), [](const v1::GenerateStreamResponse&) {}),
            client.Tokenize(tokenize).status(), client.Detokenize(detokenize).status(),
            client.GetModelInfo().status()};
  }

  static server::DeltaServer* server_;
};
server::DeltaServer* BearerToken::server_ = nullptr;

TEST_F(BearerToken, RightTokenPassesEveryMethod) {
  ASSERT_NE(server_, nullptr);
  for (const absl::Status& status : CallEveryMethod(ClientWithToken(kToken))) EXPECT_TRUE(status.ok()) << status;
}

TEST_F(BearerToken, NoTokenIsUnauthenticatedOnEveryMethod) {
  ASSERT_NE(server_, nullptr);
  for (const absl::Status& status : CallEveryMethod(ClientWithToken(""))) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
    EXPECT_NE(status.message().find("missing 'authorization'"), absl::string_view::npos) << status;
  }
}

TEST_F(BearerToken, WrongTokenIsUnauthenticatedWithoutEchoingTokens) {
  ASSERT_NE(server_, nullptr);
  // Same length, a prefix, a longer one: none may pass.
  const std::string same_length(sizeof(kToken) - 1, 'x');
  for (const std::string& wrong : {same_length, std::string(kToken).substr(0, 6), std::string(kToken) + "x"}) {
    for (const absl::Status& status : CallEveryMethod(ClientWithToken(wrong))) {
      EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
      EXPECT_NE(status.message().find("not the one this server accepts"), absl::string_view::npos) << status;
      EXPECT_EQ(status.message().find(kToken), absl::string_view::npos) << status;
      EXPECT_EQ(status.message().find(wrong), absl::string_view::npos) << status;
    }
  }
}

TEST_F(BearerToken, OtherSchemeIsUnauthenticated) {
  ASSERT_NE(server_, nullptr);
  auto channel = grpc::CreateChannel(Target(*server_), grpc::InsecureChannelCredentials());
  auto stub = v1::GenerateService::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", std::string("Basic ") + kToken);
  v1::GetModelInfoResponse response;
  const grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("not of the form 'Bearer <token>'"), std::string::npos) << status.error_message();
}

TEST_F(BearerToken, RefusedGenerationsAreCounted) {
  ASSERT_NE(server_, nullptr);
  const std::string name = "deltaserve_requests_total{finish_reason=\"none\",status=\"unauthenticated\"}";
  const double before = ScrapeMetrics(*server_)[name];
  EXPECT_EQ(ClientWithToken("").Generate(GreedyRequest({1}, 2)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AwaitMetric(*server_, name, before + 1), before + 1);
}

TEST_F(BearerToken, HealthAndReflectionNeedNoToken) {
  ASSERT_NE(server_, nullptr);
  EXPECT_EQ(ClientWithToken("").Health().value_or(grpc::health::v1::HealthCheckResponse::UNKNOWN),
            grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_NE(ListServicesThroughReflection(Target(*server_)).find("deltaserve.v1.GenerateService"), std::string::npos);
}

}  // namespace
}  // namespace deltaserve::testing
