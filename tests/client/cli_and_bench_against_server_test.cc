// deltaserve-cli and deltaserve-bench, run as the user runs them, against a real
// server on stories260K.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/server/serving_stories260k.h"
#include "tests/support/subprocess.h"

namespace deltaserve::testing {
namespace {

class CommandLineClients : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = StartStories260KServer(SmallModelOptions()).release(); }
  static void TearDownTestSuite() { delete server_; }

  static CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {DELTASERVE_CLI, "--target", Target(*server_)});
    return RunCommand(args);
  }

  static CommandResult Bench(std::vector<std::string> args) {
    args.insert(args.begin(), {DELTASERVE_BENCH, "--target", Target(*server_), "--attention-mode", "dense"});
    return RunCommand(args);
  }

  // The bench prints its table, then one JSON line.
  static nlohmann::json Report(const CommandResult& result) {
    return nlohmann::json::parse(result.out.substr(result.out.rfind("\n{") + 1));
  }

  static server::DeltaServer* server_;
};
server::DeltaServer* CommandLineClients::server_ = nullptr;

TEST_F(CommandLineClients, GenerateAndStreamPrintTheGoldenText) {
  const nlohmann::json golden = Stories260KGolden()["cases"][1];
  for (const char* command : {"generate", "stream"}) {
    const CommandResult result = Cli({command, "--prompt", golden["prompt"].get<std::string>(), "--max-tokens",
                                      std::to_string(golden["max_tokens"].get<int>()), "--temperature", "0"});
    ASSERT_EQ(result.exit_code, 0) << command << ": " << result.err;
    EXPECT_EQ(result.out, golden["text"].get<std::string>() + "\n") << command;
    EXPECT_NE(result.err.find("FINISH_REASON_LENGTH"), std::string::npos) << result.err;
  }
}

TEST_F(CommandLineClients, HealthTokenizeAndModelInfo) {
  const CommandResult health = Cli({"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");

  const CommandResult tokenize = Cli({"tokenize", "--prompt", "Once upon a time"});
  ASSERT_EQ(tokenize.exit_code, 0) << tokenize.err;
  EXPECT_EQ(nlohmann::json::parse(tokenize.out)["token_ids"], Stories260KGolden()["cases"][1]["prompt_ids"]);

  const CommandResult info = Cli({"model-info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const nlohmann::json model = nlohmann::json::parse(info.out);
  EXPECT_EQ(model["vocab_size"], 512);
  EXPECT_EQ(model["max_model_len"], 512);
}

TEST_F(CommandLineClients, ServerErrorsExitNonZeroWithTheMessage) {
  const CommandResult result = Cli({"generate", "--prompt-ids", "1", "--max-tokens", "0"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("INVALID_ARGUMENT: sampling.max_tokens"), std::string::npos) << result.err;
}

TEST_F(CommandLineClients, BenchReportsEveryRequest) {
  const CommandResult result = Bench(
      {"--num-requests", "12", "--concurrency", "4", "--prompt-len", "8", "--prompt-len-max", "24", "--output-len", "6"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = Report(result);
  EXPECT_EQ(report["num_requests"], 12);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_EQ(report["e2e_seconds"]["count"], 12);
  EXPECT_EQ(report["tpot_seconds"]["count"], 12);
  EXPECT_GT(report["generated_tokens_per_second"].get<double>(), 0);
  EXPECT_LE(report["ttft_seconds"]["p50"].get<double>(), report["e2e_seconds"]["p50"].get<double>());
  EXPECT_NE(result.out.find("p99"), std::string::npos);
}

TEST_F(CommandLineClients, BenchDecodeRateCountsTokensWhileAllRequestsRun) {
  // As many requests as clients, all started at once: they decode together for most of
  // their 128 tokens.
  const CommandResult result =
      Bench({"--num-requests", "4", "--concurrency", "4", "--prompt-len", "16", "--output-len", "128"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = Report(result);
  const double rate = report["decode_tokens_per_second"].get<double>();
  const double seconds = report["decode_window_seconds"].get<double>();
  const int64_t tokens = report["decode_window_tokens"].get<int64_t>();
  ASSERT_GT(seconds, 0) << result.out;
  EXPECT_NEAR(rate, static_cast<double>(tokens) / seconds, 1e-9 * rate);
  EXPECT_LE(seconds, report["wall_seconds"].get<double>());
  EXPECT_GT(tokens, 0);
  EXPECT_LE(tokens, 4 * 128);
  EXPECT_NE(result.out.find("decode, all requests running: "), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("n/a"), std::string::npos) << result.out;
}

TEST_F(CommandLineClients, BenchDecodeRateIsZeroForSequentialRequests) {
  const CommandResult result =
      Bench({"--num-requests", "3", "--concurrency", "1", "--prompt-len", "8", "--output-len", "8"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = Report(result);
  EXPECT_EQ(report["decode_tokens_per_second"].get<double>(), 0);
  EXPECT_EQ(report["decode_window_seconds"].get<double>(), 0);
  EXPECT_EQ(report["decode_window_tokens"].get<int64_t>(), 0);
  EXPECT_NE(result.out.find("decode, all requests running: n/a"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace deltaserve::testing
