// stories260K's golden.json: prompts tokenize to its prompt_ids, and its greedy ids
// decode to its text, at once and streamed.

#include <fstream>

#include "engine/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer/tokenizer_files.h"

namespace deltaserve {
namespace {

nlohmann::json GoldenCases() {
  std::ifstream file(testing::StoriesDir() / "golden.json");
  return nlohmann::json::parse(file)["cases"];
}

using Stories260kGolden = testing::StoriesTokenizerTest;

TEST_F(Stories260kGolden, PromptsEncodeToPromptIds) {
  const nlohmann::json cases = GoldenCases();
  ASSERT_FALSE(cases.empty());
  for (const auto& golden : cases) {
    auto ids = tokenizer_->Encode(golden["prompt"].get<std::string>(), true);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, golden["prompt_ids"].get<std::vector<int32_t>>()) << golden["name"];
  }
}

TEST_F(Stories260kGolden, GreedyIdsDecodeToGoldenText) {
  int checked = 0;
  for (const auto& golden : GoldenCases()) {
    if (!golden.contains("text")) continue;
    auto text = tokenizer_->Decode(golden["greedy_ids"].get<std::vector<int32_t>>(), true);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, golden["text"].get<std::string>()) << golden["name"];
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST_F(Stories260kGolden, ReferenceTextIsAPrefixOfTheDecodedGreedyIds) {
  for (const auto& golden : GoldenCases()) {
    if (!golden.contains("reference_text_prefix")) continue;
    auto text = tokenizer_->Decode(golden["greedy_ids"].get<std::vector<int32_t>>(), true);
    ASSERT_TRUE(text.ok()) << text.status();
    const std::string prefix = golden["reference_text_prefix"].get<std::string>();
    EXPECT_EQ(text->substr(0, prefix.size()), prefix) << golden["name"];
  }
}

TEST_F(Stories260kGolden, StreamingEveryCaseGivesTheDecodedText) {
  for (const auto& golden : GoldenCases()) {
    std::vector<int32_t> ids = golden["prompt_ids"].get<std::vector<int32_t>>();
    for (const int32_t id : golden["greedy_ids"].get<std::vector<int32_t>>()) ids.push_back(id);
    for (const bool skip_special : {false, true}) {
      IncrementalDetokenizer detokenizer(*tokenizer_, skip_special);
      std::string streamed;
      for (const int32_t id : ids) {
        auto piece = detokenizer.Push(id);
        ASSERT_TRUE(piece.ok()) << piece.status();
        streamed += *piece;
      }
      auto rest = detokenizer.Flush();
      ASSERT_TRUE(rest.ok()) << rest.status();
      streamed += *rest;
      EXPECT_EQ(streamed, *tokenizer_->Decode(ids, skip_special)) << golden["name"];
    }
  }
}

}  // namespace
}  // namespace deltaserve
