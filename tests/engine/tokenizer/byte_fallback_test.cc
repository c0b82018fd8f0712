// SentencePiece-style byte fallback on stories260K: characters outside the vocabulary
// become <0xNN> tokens, and byte tokens decode the way Hugging Face decodes them.

#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer/tokenizer_files.h"

namespace deltaserve {
namespace {

using ::testing::ElementsAre;

// stories260K puts byte 0xNN at id 3 + 0xNN; "▁" is 410.
constexpr int32_t ByteId(int byte) { return 3 + byte; }
constexpr int32_t kMetaspace = 410;

using ByteFallback = testing::StoriesTokenizerTest;

TEST_F(ByteFallback, CharactersOutsideTheVocabularyBecomeTheirBytes) {
  // U+1F604 is F0 9F 98 84.
  EXPECT_THAT(*tokenizer_->Encode("\xF0\x9F\x98\x84", false),
              ElementsAre(kMetaspace, ByteId(0xF0), ByteId(0x9F), ByteId(0x98), ByteId(0x84)));
}

TEST_F(ByteFallback, ByteRunsDecodeAsUtf8) {
  EXPECT_EQ(*tokenizer_->Decode({ByteId(0xE4), ByteId(0xB8), ByteId(0xAD)}, false), "\xE4\xB8\xAD");
}

TEST_F(ByteFallback, InvalidByteRunsDecodeToOneReplacementCharacterPerByte) {
  // Hugging Face replaces each byte of an invalid run, even the valid 'A' in it.
  EXPECT_EQ(*tokenizer_->Decode({ByteId('A'), ByteId(0xE4), ByteId(0xB8)}, false),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(ByteFallback, LeadingSpaceIsStrippedOnceAtTheStartOfTheText) {
  const std::vector<int32_t> ids = *tokenizer_->Encode("Once upon a time", false);
  EXPECT_EQ(*tokenizer_->Decode(ids, false), "Once upon a time");
  // Not after a special token that is kept: HF strips only the first character of the text.
  std::vector<int32_t> with_bos = {1};
  with_bos.insert(with_bos.end(), ids.begin(), ids.end());
  EXPECT_EQ(*tokenizer_->Decode(with_bos, false), "<s> Once upon a time");
  EXPECT_EQ(*tokenizer_->Decode(with_bos, true), "Once upon a time");
}

}  // namespace
}  // namespace deltaserve
