// deltaserve-generate as a user runs it: golden output as JSON, logprobs, the demo and
// dummy models, checkpoints without a tokenizer, and one-line errors for bad input.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace deltaserve::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kStories = std::string(DELTASERVE_SHARED_MODELS_DIR) + "/stories260K";

CommandResult Generate(std::vector<std::string> args) {
  args.insert(args.begin(), DELTASERVE_GENERATE_BINARY);
  return RunCommand(args);
}

nlohmann::json Golden() { return nlohmann::json::parse(std::ifstream(kStories + "/golden.json")); }

void ExpectOneLineError(const CommandResult& result, const std::string& needle) {
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr(needle));
  EXPECT_EQ(result.out, "");
}

TEST(GenerateCli, JsonGreedyMatchesGolden) {
  const nlohmann::json c = Golden()["cases"][1];
  CommandResult result = Generate({"--model", kStories, "--prompt", c["prompt"].get<std::string>(), "--max-tokens",
                                   "64", "--temperature", "0", "--attention-mode", "dense", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json out = nlohmann::json::parse(result.out);
  EXPECT_EQ(out["prompt_ids"], c["prompt_ids"]);
  EXPECT_EQ(out["ids"], c["greedy_ids"]);
  EXPECT_EQ(out["text"], c["text"]);
  EXPECT_EQ(out["finish_reason"], "length");
}

TEST(GenerateCli, EmptyPromptIsBosOnly) {
  CommandResult result = Generate({"--model", kStories, "--prompt", "", "--max-tokens", "3", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out)["prompt_ids"], nlohmann::json::array({1}));
}

TEST(GenerateCli, LogprobsListTopAlternativesBestFirst) {
  CommandResult result = Generate({"--model", kStories, "--prompt-ids", "1,403", "--max-tokens", "4",
                                   "--temperature", "0", "--logprobs", "3", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json out = nlohmann::json::parse(result.out);
  ASSERT_EQ(out["logprobs"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const nlohmann::json& entry = out["logprobs"][i];
    EXPECT_EQ(entry["token"], out["ids"][i]);
    ASSERT_EQ(entry["top"].size(), 3u);
    // Greedy: the chosen token is the best alternative.
    EXPECT_EQ(entry["top"][0][0], entry["token"]);
    EXPECT_FLOAT_EQ(entry["top"][0][1].get<float>(), entry["logprob"].get<float>());
    EXPECT_GE(entry["top"][0][1].get<double>(), entry["top"][1][1].get<double>());
    EXPECT_LE(entry["logprob"].get<double>(), 0.0);
  }
}

TEST(GenerateCli, SameSeedSameTokens) {
  std::vector<std::string> args{"--model", kStories, "--prompt", "Lily", "--max-tokens", "20",
                                "--temperature", "1.0", "--top-p", "0.9", "--seed", "42", "--json"};
  CommandResult first = Generate(args), second = Generate(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(nlohmann::json::parse(first.out)["ids"], nlohmann::json::parse(second.out)["ids"]);
}

TEST(GenerateCli, DemoModelSaysItIsRandom) {
  CommandResult result = Generate({"--demo-model", "--prompt", "hello", "--max-tokens", "4"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("random weights"));
}

TEST(GenerateCli, DummyWeightsRunAnyConfig) {
  CommandResult result = Generate({"--model", kStories, "--load-format", "dummy", "--prompt", "hi",
                                   "--max-tokens", "3", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("random weights"));
  EXPECT_EQ(nlohmann::json::parse(result.out)["ids"].size(), 3u);
}

TEST(GenerateCli, CheckpointWithoutTokenizerRunsOnIds) {
  const test_support::TempDir temp("deltaserve-no-tokenizer");
  const fs::path& dir = temp.path();
  for (const char* file : {"config.json", "generation_config.json", "model.safetensors"}) {
    fs::copy_file(fs::path(kStories) / file, dir / file, fs::copy_options::overwrite_existing);
  }
  CommandResult ids = Generate({"--model", dir.string(), "--prompt-ids", "1,403,407", "--max-tokens", "5", "--json"});
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_THAT(ids.err, HasSubstr("no tokenizer.json"));
  const nlohmann::json out = nlohmann::json::parse(ids.out);
  EXPECT_EQ(out["ids"].size(), 5u);
  EXPECT_EQ(out["text"], "");
  ExpectOneLineError(Generate({"--model", dir.string(), "--prompt", "hello"}), "--prompt-ids");
}

TEST(GenerateCli, BadInputIsOneLineNamingTheProblem) {
  ExpectOneLineError(Generate({"--model", "/no/such/dir", "--prompt", "x"}), "/no/such/dir");
  ExpectOneLineError(Generate({"--model", kStories}), "--prompt");
  ExpectOneLineError(Generate({"--model", kStories, "--prompt", "x", "--prompt-ids", "1"}), "exactly one");
  ExpectOneLineError(Generate({"--model", kStories, "--prompt-ids", "1,x"}), "'x' is not a token id");
  ExpectOneLineError(Generate({"--model", kStories, "--prompt-ids", "1,9999"}), "9999");
  ExpectOneLineError(Generate({"--model", kStories, "--load-format", "gguf", "--prompt", "x"}), "load-format");
  ExpectOneLineError(Generate({"--model", kStories, "--prompt", "x", "--top-p", "2"}), "top_p");
  ExpectOneLineError(Generate({"--model", kStories, "--prompt", "x", "--max-tokens", "600"}),
                     "max_tokens: must be in [1, 512], got 600");
  std::string long_prompt = "1";
  for (int i = 1; i < 500; ++i) long_prompt += ",5";
  ExpectOneLineError(Generate({"--model", kStories, "--prompt-ids", long_prompt, "--max-tokens", "20"}),
                     "500 tokens plus max_tokens 20 exceed max_model_len 512");
  ExpectOneLineError(Generate({"--model", kStories, "--prompt", "x", "--attention-mode", "fast"}), "fast");
}

}  // namespace
}  // namespace deltaserve::testing
