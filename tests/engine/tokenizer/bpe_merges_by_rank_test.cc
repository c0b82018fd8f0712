#include "engine/tokenizer/tokenizer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer/tokenizer_files.h"

namespace deltaserve {
namespace {

using ::testing::ElementsAre;

const nlohmann::json kVocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}};

std::unique_ptr<Tokenizer> LoadWithMerges(const nlohmann::json& merges) {
  auto tokenizer = testing::LoadTokenizerFiles(testing::BpeJson(kVocab, merges).dump());
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

TEST(BpeMergesByRank, LowerRankMergesFirst) {
  // "b c" outranks "a b", so "abc" becomes a + bc, which no merge joins.
  EXPECT_THAT(*LoadWithMerges({"b c", "a b"})->Encode("abc", false), ElementsAre(0, 4));
  EXPECT_THAT(*LoadWithMerges({"a b", "b c"})->Encode("abc", false), ElementsAre(3, 2));
}

TEST(BpeMergesByRank, MergedTokensMergeAgain) {
  EXPECT_THAT(*LoadWithMerges({"a b", "ab c"})->Encode("abc", false), ElementsAre(5));
}

TEST(BpeMergesByRank, EqualRankPairsMergeLeftmostFirst) {
  // "abab": both "a b" pairs have rank 0; the leftmost goes first, then the second.
  EXPECT_THAT(*LoadWithMerges({"a b"})->Encode("abab", false), ElementsAre(3, 3));
  // "bcbc" with only "c b" unavailable: pairs b+c at 0 and 2 merge, c+b never does.
  EXPECT_THAT(*LoadWithMerges({"b c"})->Encode("bcbc", false), ElementsAre(4, 4));
}

TEST(BpeMergesByRank, AcceptsMergesWrittenAsPairs) {
  const nlohmann::json pairs = nlohmann::json::array(
      {nlohmann::json::array({"a", "b"}), nlohmann::json::array({"ab", "c"})});
  EXPECT_THAT(*LoadWithMerges(pairs)->Encode("abc", false), ElementsAre(5));
}

TEST(BpeMergesByRank, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  // Merges alone would give a + bc; with ignore_merges the word "abc" is one token.
  nlohmann::json json = testing::BpeJson(kVocab, {"b c"});
  json["model"]["ignore_merges"] = true;
  auto tokenizer = testing::LoadTokenizerFiles(json.dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT(*(*tokenizer)->Encode("abc", false), ElementsAre(5));
  EXPECT_THAT(*(*tokenizer)->Encode("bcb", false), ElementsAre(4, 1));
}

TEST(BpeMergesByRank, NoDecoderJoinsTokensWithSpaces) {
  EXPECT_EQ(*LoadWithMerges({"a b"})->Decode({3, 2}, false), "ab c");
}

}  // namespace
}  // namespace deltaserve
