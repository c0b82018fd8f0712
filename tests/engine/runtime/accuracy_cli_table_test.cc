// deltaserve-accuracy on stories260K with a tiny grid: the table has one row for the
// dense replay and one per mode and grid point, dense against itself is exactly 1 / KL 0,
// a window that covers the prompt is dense up to rounding, a short one is not, and
// --plot writes a PNG.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace deltaserve::testing {
namespace {

constexpr int kLayers = 5;  // stories260K
const std::string kStories = std::string(DELTASERVE_SHARED_MODELS_DIR) + "/stories260K";

struct TableRow {
  std::string mode;
  std::string window;
  std::vector<double> layer_cosine;
  double cos_mean, kl, top1, cont;
};

CommandResult Accuracy(std::vector<std::string> args) {
  std::vector<std::string> argv{DELTASERVE_ACCURACY_BINARY, "--model", kStories, "--threads", "1"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// Rows of the printed table: mode sink window lambda cos_L0..cos_L4 cos_mean kl top1 cont.
std::vector<TableRow> ParseTable(const std::string& out) {
  std::vector<TableRow> rows;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("mode", 0) == 0) continue;
    const std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    EXPECT_EQ(fields.size(), 4u + kLayers + 4u) << line;
    if (fields.size() != 4u + kLayers + 4u) continue;
    std::vector<double> numbers;
    for (size_t i = 4; i < fields.size(); ++i) {
      double value = 0;
      EXPECT_TRUE(absl::SimpleAtod(fields[i], &value)) << fields[i];
      numbers.push_back(value);
    }
    rows.push_back(TableRow{fields[0], fields[2], std::vector<double>(numbers.begin(), numbers.begin() + kLayers),
                            numbers[kLayers], numbers[kLayers + 1], numbers[kLayers + 2], numbers[kLayers + 3]});
  }
  return rows;
}

TEST(AccuracyCli, TinyGridOnSampledPrompts) {
  const CommandResult result = Accuracy({"--num-prompts", "2", "--prompt-len", "200", "--windows", "16,512",
                                         "--lambdas", "8", "--sink", "4", "--continuation", "8"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<TableRow> rows = ParseTable(result.out);
  // The dense replay, then sparse, recompute, delta at each of 2 windows x 1 lambda.
  ASSERT_EQ(rows.size(), 7u) << result.out;
  EXPECT_EQ(rows[0].mode, "dense");
  for (double cosine : rows[0].layer_cosine) EXPECT_EQ(cosine, 1.0) << result.out;
  EXPECT_EQ(rows[0].kl, 0.0);
  EXPECT_EQ(rows[0].top1, 1.0);
  EXPECT_EQ(rows[0].cont, 1.0);
  for (size_t i = 1; i < rows.size(); ++i) {
    const TableRow& row = rows[i];
    EXPECT_EQ(row.mode, std::vector<std::string>({"sparse", "recompute", "delta"})[(i - 1) % 3]) << i;
    EXPECT_GE(row.kl, 0.0) << i;
    for (double cosine : row.layer_cosine) {
      EXPECT_GE(cosine, -1.0) << i;
      EXPECT_LE(cosine, 1.0 + 1e-12) << i;
    }
    if (row.window == "512") {
      // Every key is in the window: only float rounding separates it from dense.
      EXPECT_GT(row.cos_mean, 0.99999) << i;
      EXPECT_LT(row.kl, 1e-6) << i;
    } else {
      EXPECT_LT(row.layer_cosine[kLayers - 1], 0.9999) << "a 16-token window must lose something, row " << i;
    }
  }
}

TEST(AccuracyCli, PlotsAPng) {
  if (std::system("gnuplot --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot is not installed";
  const test_support::TempDir dir("deltaserve-accuracy");
  ASSERT_TRUE(dir.ok());
  const std::string png = dir.File("cosine.png");
  const CommandResult result = Accuracy({"--num-prompts", "1", "--prompt-len", "160", "--windows", "16",
                                         "--lambdas", "8", "--continuation", "0", "--plot", png});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::ifstream in(png, std::ios::binary);
  std::string magic(8, '\0');
  in.read(magic.data(), 8);
  EXPECT_EQ(magic, std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(AccuracyCli, RefusesBadFlagsInOneLine) {
  const CommandResult both = Accuracy({"--num-prompts", "1", "--prompts-file", "/nonexistent"});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_THAT(both.err, ::testing::HasSubstr("exactly one of --prompts-file FILE and --num-prompts N"));
  const CommandResult window = Accuracy({"--num-prompts", "1", "--windows", "0"});
  EXPECT_NE(window.exit_code, 0);
  EXPECT_THAT(window.err, ::testing::HasSubstr("--window"));
  const CommandResult too_long = Accuracy({"--num-prompts", "1", "--prompt-len", "510", "--continuation", "8"});
  EXPECT_NE(too_long.exit_code, 0);
  EXPECT_THAT(too_long.err, ::testing::HasSubstr("exceed the model's context of 512"));
}

}  // namespace
}  // namespace deltaserve::testing
