// Every bad input is INVALID_ARGUMENT with a message naming the field and the limit,
// and leaves a request running beside it untouched; oversized messages are refused by
// gRPC itself.

#include <functional>
#include <future>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/server/serving_stories260k.h"

namespace deltaserve::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

struct BadCase {
  std::string name;
  std::function<void(v1::GenerateRequest&)> spoil;
  std::vector<std::string> message_parts;
};

std::vector<BadCase> BadCases() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {
      {"no prompt", [](v1::GenerateRequest& r) { r.clear_prompt_token_ids(); }, {"prompt", "neither"}},
      {"both prompts", [](v1::GenerateRequest& r) { r.set_prompt("Once"); }, {"prompt", "both"}},
      {"prompt too long",
       [](v1::GenerateRequest& r) {
         for (int i = 0; i < 500; ++i) r.add_prompt_token_ids(5);
         r.mutable_sampling()->set_max_tokens(100);
       },
       {"prompt", "501 tokens", "max_tokens 100", "max_model_len 512"}},
      {"max_tokens 0", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_max_tokens(0); },
       {"sampling.max_tokens", "[1, 512]", "got 0"}},
      {"max_tokens above the limit", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_max_tokens(513); },
       {"sampling.max_tokens", "[1, 512]", "513"}},
      {"negative temperature", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_temperature(-0.5f); },
       {"sampling.temperature", ">= 0"}},
      {"NaN temperature", [nan](v1::GenerateRequest& r) { r.mutable_sampling()->set_temperature(nan); },
       {"sampling.temperature", "finite"}},
      {"top_p 0", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_top_p(0.0f); },
       {"sampling.top_p", "(0, 1]"}},
      {"top_p above 1", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_top_p(1.5f); },
       {"sampling.top_p", "(0, 1]"}},
      {"top_k below -1", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_top_k(-2); },
       {"sampling.top_k", "-1"}},
      {"min_p above 1", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_min_p(1.5f); },
       {"sampling.min_p", "[0, 1]"}},
      {"repetition_penalty 0", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_repetition_penalty(0.0f); },
       {"sampling.repetition_penalty", "> 0"}},
      {"presence_penalty 3", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_presence_penalty(3.0f); },
       {"sampling.presence_penalty", "[-2, 2]"}},
      {"frequency_penalty -3", [](v1::GenerateRequest& r) { r.mutable_sampling()->set_frequency_penalty(-3.0f); },
       {"sampling.frequency_penalty", "[-2, 2]"}},
      {"logprobs above the cap", [](v1::GenerateRequest& r) { r.set_logprobs(21); }, {"logprobs", "[0, 20]", "21"}},
      {"prompt token outside the vocabulary", [](v1::GenerateRequest& r) { r.add_prompt_token_ids(512); },
       {"prompt_token_ids[1]", "512", "[0, 512)"}},
      {"huge prompt token id", [](v1::GenerateRequest& r) { r.add_prompt_token_ids(4000000000u); },
       {"prompt_token_ids[1]", "4000000000", "[0, 512)"}},
      {"stop token outside the vocabulary",
       [](v1::GenerateRequest& r) { r.mutable_sampling()->add_stop_token_ids(600); },
       {"sampling.stop_token_ids[0]", "600", "[0, 512)"}},
      {"17 stop strings",
       [](v1::GenerateRequest& r) {
         for (int i = 0; i < 17; ++i) r.mutable_sampling()->add_stop("x");
       },
       {"sampling.stop", "at most 16"}},
      {"stop string of 257 bytes",
       [](v1::GenerateRequest& r) { r.mutable_sampling()->add_stop(std::string(257, 'a')); },
       {"sampling.stop[0]", "256 bytes"}},
      {"unknown attention mode",
       [](v1::GenerateRequest& r) { r.mutable_attention()->set_mode(static_cast<v1::AttentionMode>(9)); },
       {"attention.mode", "unknown value 9"}},
      {"attention window 0", [](v1::GenerateRequest& r) { r.mutable_attention()->set_window(0); },
       {"attention.window", ">= 1"}},
      {"attention lambda 0", [](v1::GenerateRequest& r) { r.mutable_attention()->set_lambda(0); },
       {"attention.lambda", ">= 1"}},
      {"probe_fraction above 1", [](v1::GenerateRequest& r) { r.mutable_attention()->set_probe_fraction(2.0f); },
       {"attention.probe_fraction", "[0, 1]"}},
  };
}

class BadRequestsAreRefused : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = StartStories260KServer(SmallModelOptions()).release(); }
  static void TearDownTestSuite() { delete server_; }
  static server::DeltaServer* server_;
};
server::DeltaServer* BadRequestsAreRefused::server_ = nullptr;

TEST_F(BadRequestsAreRefused, EachNamesTheFieldAndTheLimit) {
  const client::DeltaServeClient client(Target(*server_));
  // A good request runs through all of them and must come out as if alone.
  const v1::GenerateRequest good = GreedyRequest({1}, 200);
  absl::StatusOr<v1::GenerateResponse> alone = client.Generate(good);
  ASSERT_TRUE(alone.ok()) << alone.status();
  auto beside = std::async(std::launch::async, [&] { return client.Generate(good); });

  for (const BadCase& bad : BadCases()) {
    v1::GenerateRequest request = GreedyRequest({1}, 8);
    bad.spoil(request);
    absl::StatusOr<v1::GenerateResponse> unary = client.Generate(request);
    EXPECT_EQ(unary.status().code(), absl::StatusCode::kInvalidArgument) << bad.name << ": " << unary.status();
    for (const std::string& part : bad.message_parts) {
      EXPECT_THAT(std::string(unary.status().message()), HasSubstr(part)) << bad.name;
    }
    const absl::Status stream = client.GenerateStream(request, [](const v1::GenerateStreamResponse&) {});
    EXPECT_EQ(stream.code(), absl::StatusCode::kInvalidArgument) << bad.name << " (stream): " << stream;
  }
  absl::StatusOr<v1::GenerateResponse> together = beside.get();
  ASSERT_TRUE(together.ok()) << together.status();
  EXPECT_EQ(Ids(*together), Ids(*alone));
  EXPECT_EQ(ScrapeMetrics(*server_)["deltaserve_requests_total{finish_reason=\"none\",status=\"invalid_argument\"}"],
            2 * BadCases().size());
}

TEST_F(BadRequestsAreRefused, InvalidUtf8PromptNamesTheField) {
  const client::DeltaServeClient client(Target(*server_));
  v1::GenerateRequest request = GreedyRequest({}, 4);
  request.set_prompt(std::string("Once \xff upon", 11));
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << response.status();
  EXPECT_THAT(std::string(response.status().message()), AllOf(HasSubstr("prompt"), HasSubstr("UTF-8")));
}

TEST_F(BadRequestsAreRefused, InvalidUtf8StopStringAndTokenizeTextNameTheField) {
  const client::DeltaServeClient client(Target(*server_));
  v1::GenerateRequest request = GreedyRequest({1}, 4);
  request.mutable_sampling()->add_stop("fine");
  request.mutable_sampling()->add_stop(std::string("\xc3", 1));
  const absl::Status stream = client.GenerateStream(request, [](const v1::GenerateStreamResponse&) {});
  EXPECT_EQ(stream.code(), absl::StatusCode::kInvalidArgument) << stream;
  EXPECT_THAT(std::string(stream.message()), AllOf(HasSubstr("sampling.stop[1]"), HasSubstr("UTF-8")));

  v1::TokenizeRequest tokenize;
  tokenize.set_text(std::string("a\x80", 2));
  absl::StatusOr<v1::TokenizeResponse> tokens = client.Tokenize(tokenize);
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument) << tokens.status();
  EXPECT_THAT(std::string(tokens.status().message()), AllOf(HasSubstr("text"), HasSubstr("byte 1")));
}

TEST_F(BadRequestsAreRefused, MessagesAboveTheReceiveLimitAreRefusedByGrpc) {
  const client::DeltaServeClient client(Target(*server_));
  v1::GenerateRequest request = GreedyRequest({}, 4);
  request.set_prompt(std::string(5 << 20, 'a'));
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted) << response.status();
}

}  // namespace
}  // namespace deltaserve::testing
