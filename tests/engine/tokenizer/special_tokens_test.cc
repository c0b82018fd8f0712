// Added and special tokens in the text, BOS/EOS from the post-processor or
// tokenizer_config.json, and decoding with and without special tokens.

#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer/tokenizer_files.h"

namespace deltaserve {
namespace {

using ::testing::ElementsAre;

std::unique_ptr<Tokenizer> LoadByteLevel(const std::string& config = "") {
  auto tokenizer = testing::LoadTokenizerFiles(
      testing::ByteLevelJson(testing::ByteVocab(), nlohmann::json::array()).dump(), config);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

TEST(SpecialTokens, AddedTokensInTheTextAreMatchedBeforeBpe) {
  const auto tokenizer = LoadByteLevel();
  EXPECT_THAT(*tokenizer->Encode("a<|eos|>b<tool>", false), ElementsAre('a', 301, 'b', 302));
  // A near miss is plain text.
  EXPECT_THAT(*tokenizer->Encode("<|eos", false), ElementsAre('<', '|', 'e', 'o', 's'));
}

TEST(SpecialTokens, LstripAndRstripSwallowTheWhitespaceNextToTheToken) {
  const auto tokenizer = LoadByteLevel();
  EXPECT_THAT(*tokenizer->Encode("a  [L] b", false), ElementsAre('a', 303, 0x20, 'b'));
  EXPECT_THAT(*tokenizer->Encode("a [R]  b", false), ElementsAre('a', 0x20, 304, 'b'));
}

TEST(SpecialTokens, TemplateProcessingAddsBos) {
  const auto tokenizer = LoadByteLevel();
  EXPECT_THAT(*tokenizer->Encode("a", true), ElementsAre(300, 'a'));
  EXPECT_THAT(*tokenizer->Encode("", true), ElementsAre(300));
  EXPECT_EQ(tokenizer->bos_id(), 300);
  EXPECT_EQ(tokenizer->eos_id(), std::nullopt);
}

TEST(SpecialTokens, TokenizerConfigFlagsOverrideTheTemplate) {
  const auto both = LoadByteLevel(
      R"({"bos_token": "<|bos|>", "eos_token": {"content": "<|eos|>"}, "add_eos_token": true})");
  EXPECT_THAT(*both->Encode("a", true), ElementsAre(300, 'a', 301));
  EXPECT_EQ(both->eos_id(), 301);
  const auto none = LoadByteLevel(R"({"bos_token": "<|bos|>", "add_bos_token": false})");
  EXPECT_THAT(*none->Encode("a", true), ElementsAre('a'));
  EXPECT_EQ(none->bos_id(), 300);
}

TEST(SpecialTokens, DecodeKeepsOrSkipsOnlyTokensMarkedSpecial) {
  const auto tokenizer = LoadByteLevel();
  const std::vector<int32_t> ids = {300, 'a', 302, 301};
  EXPECT_EQ(*tokenizer->Decode(ids, false), "<|bos|>a<tool><|eos|>");
  EXPECT_EQ(*tokenizer->Decode(ids, true), "a<tool>");
  EXPECT_TRUE(tokenizer->IsSpecial(300));
  EXPECT_FALSE(tokenizer->IsSpecial(302));
  EXPECT_FALSE(tokenizer->IsSpecial('a'));
  EXPECT_EQ(tokenizer->vocab_size(), 305);
}

TEST(SpecialTokens, ByteLevelDecodesSplitCharactersAndReplacesBrokenOnes) {
  const auto tokenizer = LoadByteLevel();
  const std::vector<int32_t> ids = *tokenizer->Encode("\xE4\xB8\xAD", false);
  EXPECT_THAT(ids, ElementsAre(0xE4, 0xB8, 0xAD));
  EXPECT_EQ(*tokenizer->Decode(ids, false), "\xE4\xB8\xAD");
  // A lossy UTF-8 decode: one U+FFFD for the truncated character, 'a' survives.
  EXPECT_EQ(*tokenizer->Decode({0xE4, 0xB8, 'a'}, false), "\xEF\xBF\xBD" "a");
}

}  // namespace
}  // namespace deltaserve
