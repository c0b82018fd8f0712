// --torch-profile-dir: the engine writes a Chrome trace of exactly the chosen steps that
// carry prompt tokens, numbered over those steps only (with --torch-profile-decode, of the
// chosen decode steps instead), nothing when it is off, and refuses settings it cannot
// honour at start-up, naming the flag.

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/engine/runtime/stories260k.h"
#include "tests/support/temp_dir.h"

namespace deltaserve::testing {
namespace {

using ::testing::HasSubstr;
using test_support::TempDir;

std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> names;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return names;
  while (const dirent* entry = readdir(handle)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  closedir(handle);
  return names;
}

std::vector<int32_t> Prompt(int64_t length, int32_t first_token) {
  std::vector<int32_t> prompt{1};
  for (int32_t i = 1; i < length; ++i) prompt.push_back(first_token + (i * 37) % 400);
  return prompt;
}

// Eight tokens a step: a 40-token prompt is prefilled in five chunks.
EngineConfig ChunkedConfig(const TorchProfileConfig& profile) {
  EngineConfig config = SmallEngineConfig();
  config.max_num_batched_tokens = 8;
  config.torch_profile = profile;
  return config;
}

void Generate(LLMEngine& engine, const std::string& id, const std::vector<int32_t>& prompt, int64_t max_tokens) {
  ASSERT_TRUE(engine.AddRequest({id, prompt, Greedy(max_tokens), DenseAttention(), 0}).ok());
  RunToCompletion(engine);
}

// The file `name` in `dir` is a Chrome trace that records at least one aten op.
void ExpectChromeTraceOfAtenOps(const TempDir& dir, const std::string& name) {
  std::ifstream in(dir.File(name));
  const nlohmann::json trace = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(trace.is_discarded()) << name << " is not JSON";
  ASSERT_TRUE(trace.contains("traceEvents") && trace["traceEvents"].is_array()) << name;
  bool has_aten_op = false;
  for (const nlohmann::json& event : trace["traceEvents"]) {
    has_aten_op |= event.value("name", "").rfind("aten::", 0) == 0;
  }
  EXPECT_TRUE(has_aten_op) << name << " records no aten op";
}

TEST(TorchProfile, TracesTheChosenPromptStepsAsChromeTraces) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  auto engine = MakeStories260KEngine(ChunkedConfig({dir.path().string(), 1, 2}));
  ASSERT_NE(engine, nullptr);
  Generate(*engine, "r", Prompt(40, 3), 4);

  EXPECT_EQ(FilesIn(dir.path().string()), (std::set<std::string>{"step-1.json", "step-2.json"}));
  for (const char* name : {"step-1.json", "step-2.json"}) ExpectChromeTraceOfAtenOps(dir, name);
}

// One prompt step and three decode steps, then three prompt steps: only the four prompt
// steps are traced, numbered 0 to 3 (a counted decode step would leave a gap).
TEST(TorchProfile, DecodeStepsAreNeitherTracedNorCounted) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  auto engine = MakeStories260KEngine(ChunkedConfig({dir.path().string(), 0, 100}));
  ASSERT_NE(engine, nullptr);
  Generate(*engine, "short", Prompt(5, 3), 4);
  Generate(*engine, "chunked", Prompt(20, 11), 2);

  EXPECT_EQ(FilesIn(dir.path().string()),
            (std::set<std::string>{"step-0.json", "step-1.json", "step-2.json", "step-3.json"}));
}

// The same requests with decode steps chosen: the four decode steps (three after the short
// prompt, one after the chunked one) are traced, numbered 0 to 3, and no prompt step.
TEST(TorchProfile, WithDecodeChosenOnlyDecodeStepsAreTracedAndCounted) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  auto engine = MakeStories260KEngine(ChunkedConfig({dir.path().string(), 0, 100, /*decode=*/true}));
  ASSERT_NE(engine, nullptr);
  Generate(*engine, "short", Prompt(5, 3), 4);
  Generate(*engine, "chunked", Prompt(20, 11), 2);

  EXPECT_EQ(FilesIn(dir.path().string()), (std::set<std::string>{"decode-step-0.json", "decode-step-1.json",
                                                                  "decode-step-2.json", "decode-step-3.json"}));
  ExpectChromeTraceOfAtenOps(dir, "decode-step-3.json");
}

// Unset, the directory is "": a trace written anyway would land in the working directory.
TEST(TorchProfile, OffByDefaultWritesNothing) {
  EXPECT_TRUE(EngineConfig{}.torch_profile.dir.empty());
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  char previous[4096];
  ASSERT_NE(getcwd(previous, sizeof previous), nullptr);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  auto engine = MakeStories260KEngine(ChunkedConfig(TorchProfileConfig{}));
  if (engine != nullptr) Generate(*engine, "r", Prompt(40, 3), 4);
  ASSERT_EQ(chdir(previous), 0);

  EXPECT_THAT(FilesIn(dir.path().string()), ::testing::IsEmpty());
}

TEST(TorchProfile, BadSettingsAreRefusedNamingTheFlag) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string missing = dir.File("missing");
  auto refusal = [](const TorchProfileConfig& config) {
    return std::string(ValidateTorchProfile(config, FieldNames::kFlags).message());
  };
  EXPECT_EQ(refusal({"", -1, 8}), "--torch-profile-first-step: must be >= 0, got -1");
  EXPECT_EQ(refusal({"", 0, -2}), "--torch-profile-steps: must be >= 0, got -2");
  EXPECT_EQ(refusal({missing, 0, 8}), "--torch-profile-dir: '" + missing + "' is not a directory");
  const std::string file = dir.File("file");
  std::ofstream(file) << "x";
  EXPECT_EQ(refusal({file, 0, 8}), "--torch-profile-dir: '" + file + "' is not a directory");
  EXPECT_TRUE(ValidateTorchProfile({dir.path().string(), 0, 8}, FieldNames::kFlags).ok());
}

// Root may write anywhere, so the check is only visible to other users.
TEST(TorchProfile, UnwritableDirectoryIsRefused) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes into any directory";
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_EQ(chmod(dir.path().c_str(), 0500), 0);
  const absl::Status status = ValidateTorchProfile({dir.path().string(), 0, 8}, FieldNames::kFlags);
  chmod(dir.path().c_str(), 0700);
  EXPECT_EQ(status.message(), "--torch-profile-dir: '" + dir.path().string() + "' is not writable");
}

TEST(TorchProfile, EngineRefusesAMissingDirectoryAtStartUp) {
  absl::StatusOr<ModelSource> source = LoadModelSource(Stories260KDir(), LoadFormat::kSafetensors);
  ASSERT_TRUE(source.ok()) << source.status();
  EngineConfig config = SmallEngineConfig();
  config.torch_profile.dir = "/nonexistent/deltaserve-trace";
  const absl::StatusOr<std::unique_ptr<LLMEngine>> engine =
      LLMEngine::Create(std::move(source->config), std::move(source->weights), source->tokenizer, config);
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(engine.status().message()),
              HasSubstr("torch_profile.dir: '/nonexistent/deltaserve-trace' is not a directory"));
}

}  // namespace
}  // namespace deltaserve::testing
