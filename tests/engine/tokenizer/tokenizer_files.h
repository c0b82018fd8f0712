#pragma once

// Small tokenizer.json files written to a temp dir, so that each mechanism can be tested
// on a vocabulary small enough to reason about by hand.

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "engine/tokenizer/byte_level_map.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/temp_dir.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace deltaserve::testing {

inline std::filesystem::path StoriesDir() {
  return std::filesystem::path(DELTASERVE_SHARED_MODELS_DIR) / "stories260K";
}

// A fixture holding stories260K's tokenizer.
class StoriesTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = Tokenizer::Load(StoriesDir());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = *std::move(loaded);
  }
  std::unique_ptr<Tokenizer> tokenizer_;
};

// Tokenizer::Load of a directory holding tokenizer.json (and tokenizer_config.json if
// given), written for the call and removed after it.
inline absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFiles(const std::string& tokenizer_json,
                                                                     const std::string& config_json = "") {
  const test_support::TempDir dir("deltaserve-tokenizer");
  std::ofstream(dir.File("tokenizer.json")) << tokenizer_json;
  if (!config_json.empty()) std::ofstream(dir.File("tokenizer_config.json")) << config_json;
  return Tokenizer::Load(dir.path());
}

// A BPE tokenizer.json with no normalizer, pre-tokenizer or decoder unless given.
inline nlohmann::json BpeJson(const nlohmann::json& vocab, const nlohmann::json& merges) {
  return {{"version", "1.0"},
          {"added_tokens", nlohmann::json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

// The 256 byte-level characters, id = byte value.
inline nlohmann::json ByteVocab() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int byte = 0; byte < 256; ++byte) {
    vocab[tokenization::BytesToByteLevel(std::string(1, static_cast<char>(byte)))] = byte;
  }
  return vocab;
}

// A Llama 3 style byte-level tokenizer whose model knows only the 256 byte characters
// (id = byte value) and the merges given, with added tokens:
//   300 <|bos|> (special, the template's BOS)   301 <|eos|> (special)
//   302 <tool> (not special)   303 [L] (lstrip)   304 [R] (rstrip)
inline nlohmann::json ByteLevelJson(const nlohmann::json& vocab, const nlohmann::json& merges) {
  nlohmann::json json = BpeJson(vocab, merges);
  json["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex",
            R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  json["decoder"] = {{"type", "ByteLevel"}};
  json["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}},
                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"special_tokens", {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {300}}, {"tokens", {"<|bos|>"}}}}}}};
  const auto added = [](int id, const char* content, bool special, bool lstrip, bool rstrip) {
    return nlohmann::json{{"id", id},         {"content", content}, {"special", special},
                          {"lstrip", lstrip}, {"rstrip", rstrip},   {"single_word", false},
                          {"normalized", false}};
  };
  json["added_tokens"] = {added(300, "<|bos|>", true, false, false),
                          added(301, "<|eos|>", true, false, false),
                          added(302, "<tool>", false, false, false),
                          added(303, "[L]", false, true, false),
                          added(304, "[R]", false, false, true)};
  return json;
}

}  // namespace deltaserve::testing
