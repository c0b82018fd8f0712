// Streaming decode: never half a UTF-8 character, and the pieces add up to Decode.

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer/tokenizer_files.h"

namespace deltaserve {
namespace {

using ::testing::ElementsAre;

// Every piece Push returned, then what Flush returned.
std::vector<std::string> Stream(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                                bool skip_special) {
  IncrementalDetokenizer detokenizer(tokenizer, skip_special);
  std::vector<std::string> pieces;
  for (const int32_t id : ids) {
    auto piece = detokenizer.Push(id);
    EXPECT_TRUE(piece.ok()) << piece.status();
    pieces.push_back(*piece);
  }
  auto rest = detokenizer.Flush();
  EXPECT_TRUE(rest.ok()) << rest.status();
  pieces.push_back(*rest);
  return pieces;
}

void ExpectStreamMatchesDecode(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  for (const bool skip_special : {false, true}) {
    std::string joined;
    for (const std::string& piece : Stream(tokenizer, ids, skip_special)) {
      EXPECT_EQ(tokenization::FindInvalidUtf8(piece), std::string_view::npos) << piece;
      joined += piece;
    }
    EXPECT_EQ(joined, *tokenizer.Decode(ids, skip_special));
  }
}

std::unique_ptr<Tokenizer> LoadStories() {
  auto tokenizer = Tokenizer::Load(testing::StoriesDir());
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

std::unique_ptr<Tokenizer> LoadByteLevel() {
  auto tokenizer = testing::LoadTokenizerFiles(
      testing::ByteLevelJson(testing::ByteVocab(), nlohmann::json::array()).dump());
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

TEST(IncrementalDetokenizer, EmojiSplitAcrossByteLevelTokensComesOutWhole) {
  const auto tokenizer = LoadByteLevel();
  const std::vector<int32_t> ids = *tokenizer->Encode("a\xF0\x9F\x98\x80" "b", false);
  ASSERT_EQ(ids.size(), 6u);
  EXPECT_THAT(Stream(*tokenizer, ids, false),
              ElementsAre("a", "", "", "", "\xF0\x9F\x98\x80", "b", ""));
}

TEST(IncrementalDetokenizer, CjkSplitAcrossByteFallbackTokensComesOutWhole) {
  const auto tokenizer = LoadStories();
  // "▁" then the three byte tokens of U+4E2D, then "▁Once".
  const std::vector<int32_t> ids = {410, 3 + 0xE4, 3 + 0xB8, 3 + 0xAD, 403};
  EXPECT_THAT(Stream(*tokenizer, ids, false), ElementsAre("", "", "", "", "\xE4\xB8\xAD Once", ""));
  ExpectStreamMatchesDecode(*tokenizer, ids);
}

TEST(IncrementalDetokenizer, UnfinishedCharacterAtTheEndIsFlushedAsReplacement) {
  const auto byte_level = LoadByteLevel();
  EXPECT_THAT(Stream(*byte_level, {'a', 0xF0, 0x9F}, false), ElementsAre("a", "", "", "\xEF\xBF\xBD"));
  const auto stories = LoadStories();
  ExpectStreamMatchesDecode(*stories, {403, 3 + 0xF0, 3 + 0x9F});
}

TEST(IncrementalDetokenizer, LeadingSpaceIsStrippedOnlyAtTheStartOfTheText) {
  const auto tokenizer = LoadStories();
  // </s> skipped, then "▁Once": the whole text starts with the space, so it goes.
  ExpectStreamMatchesDecode(*tokenizer, {2, 403, 407, 2, 403});
  ExpectStreamMatchesDecode(*tokenizer, {410, 410, 403});
}

TEST(IncrementalDetokenizer, EveryPrefixOfMixedTextStreamsLikeDecode) {
  const auto stories = LoadStories();
  const auto byte_level = LoadByteLevel();
  const std::string text = "Once upon a time \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xE4\xB8\xAD\xE6\x96\x87 <s>end</s>";
  for (const Tokenizer* tokenizer : {stories.get(), byte_level.get()}) {
    const std::vector<int32_t> ids = *tokenizer->Encode(text, true);
    for (size_t length = 0; length <= ids.size(); ++length) {
      ExpectStreamMatchesDecode(*tokenizer, std::vector<int32_t>(ids.begin(), ids.begin() + length));
    }
  }
}

TEST(IncrementalDetokenizer, OutOfVocabularyIdAndUseAfterFlushFail) {
  const auto tokenizer = LoadStories();
  IncrementalDetokenizer detokenizer(*tokenizer, false);
  const auto bad = detokenizer.Push(512);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("512"));
  ASSERT_TRUE(detokenizer.Flush().ok());
  EXPECT_FALSE(detokenizer.Push(403).ok());
}

}  // namespace
}  // namespace deltaserve
