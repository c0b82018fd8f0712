// The engine reproduces Hugging Face transformers' greedy ids for stories260K exactly,
// and llama2.c's published text.

#include <gtest/gtest.h>

#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

TEST(Stories260KGolden, GreedyIdsMatchTransformersForEveryCase) {
  const nlohmann::json golden = Stories260KGolden();
  for (const nlohmann::json& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto engine = MakeStories260KEngine();
    ASSERT_NE(engine, nullptr);
    GenerationRequest request{"golden", c["prompt_ids"].get<std::vector<int32_t>>(),
                              Greedy(c["max_tokens"].get<int64_t>()), DenseAttention(), 0};
    request.sampling.ignore_eos = true;
    ASSERT_TRUE(engine->AddRequest(request).ok());
    const Completion completion = RunToCompletion(*engine)["golden"];
    EXPECT_EQ(completion.ids, c["greedy_ids"].get<std::vector<int32_t>>());
    if (c.contains("text")) {
      EXPECT_EQ(completion.text, c["text"].get<std::string>());
    }
  }
}

TEST(Stories260KGolden, BosOnlyTextIsLlama2cPublishedText) {
  const nlohmann::json golden = Stories260KGolden();
  const nlohmann::json& c = golden["cases"][0];
  ASSERT_EQ(c["name"], "bos_only_200");
  auto engine = MakeStories260KEngine();
  ASSERT_NE(engine, nullptr);
  std::vector<int32_t> bos_only = *engine->tokenizer()->Encode("", /*add_special_tokens=*/true);
  ASSERT_EQ(bos_only, c["prompt_ids"].get<std::vector<int32_t>>());
  GenerationRequest request{"bos", bos_only, Greedy(200), DenseAttention(), 0};
  request.sampling.ignore_eos = true;
  ASSERT_TRUE(engine->AddRequest(request).ok());
  const std::string text = RunToCompletion(*engine)["bos"].text;
  const std::string reference = c["reference_text_prefix"].get<std::string>();
  EXPECT_EQ(text.substr(0, reference.size()), reference);
}

TEST(Stories260KGolden, PromptTextEncodesToGoldenIds) {
  const nlohmann::json golden = Stories260KGolden();
  auto engine = MakeStories260KEngine();
  ASSERT_NE(engine, nullptr);
  for (const nlohmann::json& c : golden["cases"]) {
    EXPECT_EQ(*engine->tokenizer()->Encode(c["prompt"].get<std::string>(), true),
              c["prompt_ids"].get<std::vector<int32_t>>());
  }
}

}  // namespace
}  // namespace deltaserve::testing
