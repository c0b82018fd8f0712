#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/model/safetensors.h"
#include "tests/engine/model/safetensors_writer.h"
#include "tests/support/temp_dir.h"

namespace deltaserve {
namespace {

using test_support::TempDir;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct BadFile {
  std::string name;
  std::string header;
  std::string data;
  // The error must name the file (checked for every case) and what is wrong.
  std::vector<std::string> message_parts;
};

void PrintTo(const BadFile& bad, std::ostream* out) { *out << bad.name; }

class SafetensorsRejectsBadHeaderTest : public ::testing::TestWithParam<BadFile> {};

TEST_P(SafetensorsRejectsBadHeaderTest, NamesFileAndProblem) {
  TempDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  WriteRawSafetensors(path, GetParam().header, GetParam().data);
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(file.status().message());
  EXPECT_THAT(message, HasSubstr(path.string() + ": "));
  for (const std::string& part : GetParam().message_parts) EXPECT_THAT(message, HasSubstr(part));
}

INSTANTIATE_TEST_SUITE_P(
    EveryCheck, SafetensorsRejectsBadHeaderTest,
    ::testing::Values(BadFile{"MalformedJson", R"({"a": {"dtype": "F32",)", "", {"malformed header JSON"}},
                      BadFile{"HeaderNotAnObject", "[1, 2]", "", {"header JSON is not a JSON object"}},
                      BadFile{"UnsupportedDtype",
                              R"({"ids": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})",
                              std::string(8, '\0'),
                              {"tensor 'ids': dtype I64 is not supported"}},
                      BadFile{"MissingDtype",
                              R"({"a": {"shape": [1], "data_offsets": [0, 4]}})",
                              FloatBytes({1}),
                              {"tensor 'a': dtype missing"}},
                      BadFile{"NegativeDimension",
                              R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                              FloatBytes({1}),
                              {"tensor 'a': shape [-1] must hold non-negative integers"}},
                      BadFile{"OffsetsPastTheData",
                              R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                              FloatBytes({1}),
                              {"tensor 'a': data_offsets [0, 8] outside the 4-byte data section"}},
                      BadFile{"OffsetsReversed",
                              R"({"a": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}})",
                              FloatBytes({1}),
                              {"tensor 'a': data_offsets [4, 0]"}},
                      BadFile{"OneOffset",
                              R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})",
                              FloatBytes({1}),
                              {"tensor 'a': data_offsets [0]"}},
                      BadFile{"SizeDisagreesWithShape",
                              R"({"a": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 4]}})",
                              FloatBytes({1}),
                              {"tensor 'a': data_offsets span 4 bytes but shape [2, 2] of BF16 needs 8"}},
                      BadFile{"ShapeOverflows",
                              R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})",
                              FloatBytes({1}),
                              {"tensor 'a': data_offsets span 4 bytes"}},
                      BadFile{"OverlappingOffsets",
                              R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                              FloatBytes({1, 2, 3}),
                              {"tensors 'a' and 'b' overlap"}}),
    [](const ::testing::TestParamInfo<BadFile>& param_info) { return param_info.param.name; });

TEST(SafetensorsRejectsBadFileTest, FileShorterThanTheHeaderLength) {
  TempDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  WriteTextFile(path, std::string("\x05\0\0\0\0", 5));
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()),
              HasSubstr(path.string() + ": file of 5 bytes is too short for the 8-byte header length"));
}

TEST(SafetensorsRejectsBadFileTest, EmptyFile) {
  TempDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  WriteTextFile(path, "");
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()), HasSubstr(path.string() + ": file of 0 bytes is too short"));
}

TEST(SafetensorsRejectsBadFileTest, HeaderLengthBeyondTheFile) {
  TempDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  WriteRawSafetensors(path, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", FloatBytes({1}));
  // Cut the file inside its header, as an interrupted download would.
  fs::resize_file(path, 20);
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()), HasSubstr(path.string() + ": header length "));
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("runs past the end of the 20-byte file"));
}

TEST(SafetensorsRejectsBadFileTest, TruncatedDataSection) {
  TempDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  WriteSafetensors(path, {{"a.weight", "F32", {4}, FloatBytes({1, 2, 3, 4})}});
  fs::resize_file(path, fs::file_size(path) - 4);
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()),
              HasSubstr(path.string() + ": tensor 'a.weight': data_offsets [0, 16] outside the 12-byte data section"));
}

TEST(SafetensorsRejectsBadFileTest, MissingFile) {
  TempDir dir;
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(dir.path() / "absent.safetensors");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr((dir.path() / "absent.safetensors").string()));
}

TEST(SafetensorsRejectsBadFileTest, DirectoryInsteadOfFile) {
  TempDir dir;
  fs::create_directory(dir.path() / "model.safetensors");
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(dir.path() / "model.safetensors");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()),
              HasSubstr((dir.path() / "model.safetensors").string() + ": not a regular file"));
}

}  // namespace
}  // namespace deltaserve
