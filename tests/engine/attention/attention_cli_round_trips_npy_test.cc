// deltaserve-attention, run as a subprocess, writes the engine's attention of .npy inputs
// (one-shot and chunked) and rejects bad input with one line naming the flag or file
// and exit code 2.

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "engine/attention/npy.h"
#include "engine/attention/prefill_attention.h"
#include "tests/engine/attention/attention_inputs.h"
#include "tests/engine/attention/reference_attention.h"
#include "tests/support/temp_dir.h"

namespace deltaserve {
namespace {

using ::testing::HasSubstr;

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr
};

CommandResult RunCli(const std::string& arguments) {
  const std::string command = std::string(DELTASERVE_ATTENTION_CLI) + " " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  std::array<char, 4096> buffer;
  for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class AttentionCliTest : public ::testing::Test {
 protected:
  static constexpr int64_t kPromptLen = 700;

  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    inputs_ = reference::AttentionInputs::Random(kPromptLen, 4, 2, 16, 17);
    ASSERT_TRUE(WriteNpyFloat32(dir_.File("q.npy"), inputs_.q).ok());
    ASSERT_TRUE(WriteNpyFloat32(dir_.File("k.npy"), inputs_.k).ok());
    ASSERT_TRUE(WriteNpyFloat32(dir_.File("v.npy"), inputs_.v).ok());
  }

  // The usual inputs with some flags replaced or added.
  std::string Arguments(const std::string& extra) const {
    return "--q " + dir_.File("q.npy") + " --k " + dir_.File("k.npy") + " --v " + dir_.File("v.npy") + " --out " +
           dir_.File("out.npy") + " --window 64 --sink 16 --lambda 48 " + extra;
  }

  // Runs with bad input and expects exit code 2 and one line naming `what`.
  void ExpectRejected(const std::string& arguments, const std::string& what) {
    const CommandResult result = RunCli(arguments);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_THAT(result.output, HasSubstr(what));
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  }

  test_support::TempDir dir_;
  reference::AttentionInputs inputs_;
};

TEST_F(AttentionCliTest, WritesTheEnginesAttentionForEveryMode) {
  struct Case {
    const char* mode;
    const char* chunk;
  };
  for (const Case& c : {Case{"dense", "0"}, Case{"sparse", "100"}, Case{"recompute", "0"}, Case{"delta", "0"},
                        Case{"delta", "37"}}) {
    const CommandResult result = RunCli(Arguments(std::string("--mode ") + c.mode + " --chunk " + c.chunk));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const absl::StatusOr<at::Tensor> out = ReadNpyFloat32(dir_.File("out.npy"));
    ASSERT_TRUE(out.ok()) << out.status();
    const AttentionConfig config{*ParseAttentionMode(c.mode), 64, 16, 48};
    const at::Tensor expected = PrefillAttention(inputs_.q, inputs_.k, inputs_.v, 0, kPromptLen, config);
    EXPECT_LT(reference::RelativeError(*out, expected), 1e-6) << c.mode << " chunk " << c.chunk;
  }
}

TEST_F(AttentionCliTest, RejectsBadFlags) {
  ExpectRejected(Arguments("--mode fast"), "--mode: attention mode: unknown value 'fast'");
  ExpectRejected(Arguments("--window 0"), "--window must be >= 1, got 0");
  ExpectRejected(Arguments("--sink -1"), "--sink must be >= 0, got -1");
  ExpectRejected(Arguments("--lambda 0"), "--lambda must be >= 1, got 0");
  ExpectRejected(Arguments("--chunk -5"), "--chunk must be >= 0, got -5");
  ExpectRejected("--k " + dir_.File("k.npy") + " --v " + dir_.File("v.npy") + " --out " + dir_.File("o.npy"),
                 "--q: required");
  ExpectRejected(Arguments("--out="), "--out: required");
}

TEST_F(AttentionCliTest, RejectsBadFiles) {
  ExpectRejected(Arguments("--q " + dir_.File("none.npy")), "--q " + dir_.File("none.npy") + ": cannot open file");
  std::ofstream(dir_.File("text.npy")) << "not an npy file at all";
  ExpectRejected(Arguments("--k " + dir_.File("text.npy")), "not a .npy file");
  ASSERT_TRUE(WriteNpyFloat32(dir_.File("flat.npy"), at::randn({kPromptLen, 32})).ok());
  ExpectRejected(Arguments("--v " + dir_.File("flat.npy")), "--v " + dir_.File("flat.npy") + ": shape (700, 32)");
  ExpectRejected(Arguments("--out " + dir_.File("no/such/dir/out.npy")), "--out");
}

TEST_F(AttentionCliTest, RejectsMismatchedShapes) {
  ASSERT_TRUE(WriteNpyFloat32(dir_.File("short_k.npy"), inputs_.k.slice(0, 0, 600)).ok());
  ExpectRejected(Arguments("--k " + dir_.File("short_k.npy")), "--v: shape (700, 2, 16) differs from --k shape (600, 2, 16)");
  ASSERT_TRUE(WriteNpyFloat32(dir_.File("short_v.npy"), inputs_.v.slice(0, 0, 600)).ok());
  ExpectRejected(Arguments("--k " + dir_.File("short_k.npy") + " --v " + dir_.File("short_v.npy")),
                 "--k: shape (600, 2, 16) does not match --q shape (700, 4, 16)");
  const at::Tensor three_heads = at::randn({kPromptLen, 3, 16});
  ASSERT_TRUE(WriteNpyFloat32(dir_.File("k3.npy"), three_heads).ok());
  ASSERT_TRUE(WriteNpyFloat32(dir_.File("v3.npy"), three_heads).ok());
  ExpectRejected(Arguments("--k " + dir_.File("k3.npy") + " --v " + dir_.File("v3.npy")),
                 "query heads H=4 are not a multiple of KV heads Hkv=3");
}

}  // namespace
}  // namespace deltaserve
