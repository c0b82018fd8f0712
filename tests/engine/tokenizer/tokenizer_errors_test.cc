// Bad files and bad input fail with a message naming the file and field, or the id.

#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer/tokenizer_files.h"

namespace deltaserve {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string LoadError(const std::string& tokenizer_json, const std::string& config = "") {
  auto tokenizer = testing::LoadTokenizerFiles(tokenizer_json, config);
  EXPECT_FALSE(tokenizer.ok());
  return tokenizer.ok() ? "" : std::string(tokenizer.status().message());
}

const nlohmann::json kVocab = {{"a", 0}, {"b", 1}, {"ab", 2}};

TEST(TokenizerErrors, UnknownModelTypeNamesFileAndField) {
  nlohmann::json json = testing::BpeJson(kVocab, {"a b"});
  json["model"]["type"] = "Unigram";
  EXPECT_THAT(LoadError(json.dump()),
              AllOf(HasSubstr("tokenizer.json"), HasSubstr("model.type"), HasSubstr("Unigram")));
}

TEST(TokenizerErrors, MalformedJsonNamesTheFile) {
  EXPECT_THAT(LoadError("{\"model\": "), AllOf(HasSubstr("tokenizer.json"), HasSubstr("not valid JSON")));
  EXPECT_THAT(LoadError(testing::BpeJson(kVocab, {"a b"}).dump(), "[1,"),
              HasSubstr("tokenizer_config.json"));
}

TEST(TokenizerErrors, MissingOrMistypedFieldsAreNamed) {
  nlohmann::json no_vocab = testing::BpeJson(kVocab, {"a b"});
  no_vocab["model"].erase("vocab");
  EXPECT_THAT(LoadError(no_vocab.dump()), AllOf(HasSubstr("model"), HasSubstr("\"vocab\"")));
  nlohmann::json bad_id = testing::BpeJson({{"a", "zero"}}, nlohmann::json::array());
  EXPECT_THAT(LoadError(bad_id.dump()), AllOf(HasSubstr("model.vocab.a"), HasSubstr("integer")));
}

TEST(TokenizerErrors, MergeOfUnknownTokensIsNamed) {
  EXPECT_THAT(LoadError(testing::BpeJson(kVocab, {"a b", "b c"}).dump()),
              AllOf(HasSubstr("model.merges[1]"), HasSubstr("\"c\"")));
}

TEST(TokenizerErrors, UnsupportedComponentsAreNamed) {
  nlohmann::json json = testing::BpeJson(kVocab, {"a b"});
  json["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}}}};
  EXPECT_THAT(LoadError(json.dump()),
              AllOf(HasSubstr("pre_tokenizer.pretokenizers[0].type"), HasSubstr("Whitespace")));
  json["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_THAT(LoadError(json.dump()), HasSubstr("pre_tokenizer.pattern.Regex"));
}

TEST(TokenizerErrors, MissingDirectoryIsNamed) {
  const auto tokenizer = Tokenizer::Load("/nonexistent/deltaserve");
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("/nonexistent/deltaserve/tokenizer.json"));
}

TEST(TokenizerErrors, DecodeOfIdOutsideTheVocabularyNamesTheId) {
  auto tokenizer = Tokenizer::Load(testing::StoriesDir());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  for (const int32_t id : {512, -1}) {
    const auto text = (*tokenizer)->Decode({403, id}, false);
    ASSERT_FALSE(text.ok());
    EXPECT_THAT(std::string(text.status().message()),
                AllOf(HasSubstr("token id " + std::to_string(id)), HasSubstr("512")));
  }
}

TEST(TokenizerErrors, EncodeOfInvalidUtf8NamesTheOffset) {
  auto tokenizer = Tokenizer::Load(testing::StoriesDir());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const auto ids = (*tokenizer)->Encode("ab\xC3", false);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(std::string(ids.status().message()), AllOf(HasSubstr("UTF-8"), HasSubstr("offset 2")));
}

}  // namespace
}  // namespace deltaserve
