// Unary and streaming Generate return deltaserve-generate's greedy ids on stories260K
// (golden.json, computed with Hugging Face transformers).

#include <gtest/gtest.h>

#include "tests/server/serving_stories260k.h"

namespace deltaserve::testing {
namespace {

class GenerateMatchesGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = StartStories260KServer(SmallModelOptions()).release(); }
  static void TearDownTestSuite() { delete server_; }
  static server::DeltaServer* server_;
};
server::DeltaServer* GenerateMatchesGolden::server_ = nullptr;

TEST_F(GenerateMatchesGolden, UnaryWithPromptIds) {
  const client::DeltaServeClient client(Target(*server_));
  const nlohmann::json cases = Stories260KGolden()["cases"];
  ASSERT_EQ(cases.size(), 2u);
  for (const nlohmann::json& golden : cases) {
    const auto prompt = golden["prompt_ids"].get<std::vector<uint32_t>>();
    absl::StatusOr<v1::GenerateResponse> response =
        client.Generate(GreedyRequest(prompt, golden["max_tokens"].get<uint32_t>()));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(Ids(*response), golden["greedy_ids"].get<std::vector<uint32_t>>()) << golden["name"];
    EXPECT_EQ(response->finish_reason(), v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(response->usage().prompt_tokens(), prompt.size());
    EXPECT_EQ(response->usage().completion_tokens(), golden["max_tokens"].get<uint32_t>());
  }
}

TEST_F(GenerateMatchesGolden, UnaryWithPromptTextGivesTheGoldenText) {
  const client::DeltaServeClient client(Target(*server_));
  const nlohmann::json golden = Stories260KGolden()["cases"][1];
  v1::GenerateRequest request = GreedyRequest({}, golden["max_tokens"].get<uint32_t>());
  request.set_prompt(golden["prompt"].get<std::string>());
  request.set_request_id("golden-text");
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Ids(*response), golden["greedy_ids"].get<std::vector<uint32_t>>());
  EXPECT_EQ(response->text(), golden["text"].get<std::string>());
  EXPECT_EQ(response->request_id(), "golden-text");
  EXPECT_GT(response->timings().total_seconds(), 0);
  EXPECT_LE(response->timings().time_to_first_token_seconds(), response->timings().total_seconds());
}

TEST_F(GenerateMatchesGolden, StreamPiecesConcatenateToTheGoldenOutput) {
  const client::DeltaServeClient client(Target(*server_));
  const nlohmann::json golden = Stories260KGolden()["cases"][1];
  v1::GenerateRequest request = GreedyRequest({}, golden["max_tokens"].get<uint32_t>());
  request.set_prompt(golden["prompt"].get<std::string>());
  std::vector<uint32_t> ids;
  std::string text;
  std::vector<v1::GenerateStreamResponse> messages;
  const absl::Status status = client.GenerateStream(request, [&](const v1::GenerateStreamResponse& message) {
    ids.insert(ids.end(), message.token_ids().begin(), message.token_ids().end());
    text += message.text();
    messages.push_back(message);
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ids, golden["greedy_ids"].get<std::vector<uint32_t>>());
  EXPECT_EQ(text, golden["text"].get<std::string>());
  ASSERT_GT(messages.size(), 1u);
  for (size_t i = 0; i + 1 < messages.size(); ++i) {
    EXPECT_EQ(messages[i].finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
  }
  EXPECT_EQ(messages.back().finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(messages.back().usage().completion_tokens(), golden["max_tokens"].get<uint32_t>());
}

TEST_F(GenerateMatchesGolden, LogprobsComeOnePerTokenWhenAsked) {
  const client::DeltaServeClient client(Target(*server_));
  v1::GenerateRequest request = GreedyRequest({1}, 8);
  request.set_logprobs(3);
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->logprobs_size(), 8);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(response->logprobs(i).token_id(), response->token_ids(i));
    EXPECT_EQ(response->logprobs(i).top_logprobs_size(), 3);
    // Greedy picks the most likely token of the raw distribution.
    EXPECT_EQ(response->logprobs(i).top_logprobs(0).token_id(), response->token_ids(i));
  }
}

}  // namespace
}  // namespace deltaserve::testing
