// Stop strings end the output even when they span several tokens; the text is cut
// before the stop string and never released early.

#include <gtest/gtest.h>

#include "engine/runtime/output_text.h"
#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

std::unique_ptr<Tokenizer> StoriesTokenizer() { return *Tokenizer::Load(Stories260KDir()); }

TEST(OutputTextStops, StopStringAcrossTokensCutsTextBeforeIt) {
  auto tokenizer = StoriesTokenizer();
  const std::vector<int32_t> ids = *tokenizer->Encode("One day, she saw a big ball.", false);
  OutputText text(tokenizer.get(), {"saw a b"});
  std::string released;
  bool stopped = false;
  for (int32_t id : ids) {
    OutputText::Update update = *text.Append(id);
    released += update.text;
    if (update.stopped) {
      stopped = true;
      break;
    }
  }
  EXPECT_TRUE(stopped);
  EXPECT_EQ(released, "One day, she ");
}

TEST(OutputTextStops, WithoutMatchReleasesEverythingAtFinish) {
  auto tokenizer = StoriesTokenizer();
  const std::string sentence = "Lily liked the park.";
  const std::vector<int32_t> ids = *tokenizer->Encode(sentence, false);
  OutputText text(tokenizer.get(), {"zebra"});
  std::string released;
  for (int32_t id : ids) {
    OutputText::Update update = *text.Append(id);
    EXPECT_FALSE(update.stopped);
    released += update.text;
    // Never more than what could not start "zebra" is held back.
    EXPECT_GE(released.size() + 4, text.text().size());
  }
  released += *text.Finish();
  EXPECT_EQ(released, *tokenizer->Decode(ids, true));
}

TEST(OutputTextStops, NoTokenizerMeansNoText) {
  OutputText text(nullptr, {});
  EXPECT_EQ(text.Append(5)->text, "");
  EXPECT_EQ(*text.Finish(), "");
}

}  // namespace
}  // namespace deltaserve::testing
