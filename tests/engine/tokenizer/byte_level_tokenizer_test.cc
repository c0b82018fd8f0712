// Tokenizer::ByteLevel, the tokenizer of dummy models.

#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deltaserve {
namespace {

using ::testing::ElementsAre;

TEST(ByteLevelTokenizer, IdsAreBytesWithBosInFront) {
  const auto tokenizer = Tokenizer::ByteLevel(260, 256, 257);
  EXPECT_THAT(*tokenizer->Encode("hi\xC3\xA9", true), ElementsAre(256, 'h', 'i', 0xC3, 0xA9));
  EXPECT_THAT(*tokenizer->Encode("hi", false), ElementsAre('h', 'i'));
  EXPECT_EQ(tokenizer->bos_id(), 256);
  EXPECT_EQ(tokenizer->eos_id(), 257);
  EXPECT_EQ(tokenizer->vocab_size(), 260);
}

TEST(ByteLevelTokenizer, SpecialAndOtherIdsDecodeToNothing) {
  const auto tokenizer = Tokenizer::ByteLevel(260, 256, 257);
  EXPECT_EQ(*tokenizer->Decode({256, 'h', 258, 0xC3, 0xA9, 257}, false), "h\xC3\xA9");
  EXPECT_TRUE(tokenizer->IsSpecial(257));
  EXPECT_FALSE(tokenizer->IsSpecial(258));
}

TEST(ByteLevelTokenizer, BosBelow256IsSpecialNotAByte) {
  const auto tokenizer = Tokenizer::ByteLevel(256, 1, 2);
  EXPECT_EQ(*tokenizer->Decode({1, 'a', 2}, false), "a");
}

TEST(ByteLevelTokenizer, OutOfRangeIdsAndBytesFail) {
  const auto tokenizer = Tokenizer::ByteLevel(128, std::nullopt, std::nullopt);
  EXPECT_FALSE(tokenizer->Decode({128}, false).ok());
  EXPECT_FALSE(tokenizer->Encode("\xC3\xA9", false).ok());
  EXPECT_EQ(*tokenizer->Decode({'a', 'b'}, false), "ab");
}

}  // namespace
}  // namespace deltaserve
