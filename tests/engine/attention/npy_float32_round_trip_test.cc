// .npy float32 files round-trip, and files that are not C-order '<f4' .npy v1-v3 are
// rejected with a message naming the file and the problem.

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "engine/attention/npy.h"
#include "tests/support/temp_dir.h"

namespace deltaserve {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A .npy file with the given version and header dictionary and `values` float32 values.
void WriteRawNpy(const std::string& path, int version, const std::string& dictionary, int64_t values) {
  std::string header = dictionary + "\n";
  const size_t length_width = version == 1 ? 2 : 4;
  std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(version) + '\0';
  for (size_t i = 0; i < length_width; ++i) bytes.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  bytes += header;
  bytes.append(static_cast<size_t>(values) * sizeof(float), '\0');
  std::ofstream(path, std::ios::binary) << bytes;
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  std::string ReadError(int version, const std::string& dictionary, int64_t values) {
    const std::string path = dir_.File("bad.npy");
    WriteRawNpy(path, version, dictionary, values);
    const absl::StatusOr<at::Tensor> tensor = ReadNpyFloat32(path);
    EXPECT_FALSE(tensor.ok());
    return std::string(tensor.status().message());
  }

  test_support::TempDir dir_;
};

TEST_F(NpyTest, RoundTripsShapesAndValues) {
  for (const auto& shape : {std::vector<int64_t>{5}, std::vector<int64_t>{3, 4, 8}, std::vector<int64_t>{2, 0, 3}}) {
    const at::Tensor tensor = at::randn(shape);
    const std::string path = dir_.File("t.npy");
    ASSERT_TRUE(WriteNpyFloat32(path, tensor).ok());
    const absl::StatusOr<at::Tensor> read = ReadNpyFloat32(path);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_TRUE(at::equal(*read, tensor));
  }
}

TEST_F(NpyTest, WritesNonContiguousTensorsInCOrder) {
  const at::Tensor tensor = at::randn({4, 6}).t();
  const std::string path = dir_.File("t.npy");
  ASSERT_TRUE(WriteNpyFloat32(path, tensor).ok());
  EXPECT_TRUE(at::equal(*ReadNpyFloat32(path), tensor));
}

TEST_F(NpyTest, ReadsVersionsTwoAndThree) {
  for (int version : {2, 3}) {
    const std::string path = dir_.File("v.npy");
    WriteRawNpy(path, version, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 6);
    const absl::StatusOr<at::Tensor> read = ReadNpyFloat32(path);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->sizes(), (std::vector<int64_t>{2, 3}));
  }
}

TEST_F(NpyTest, RejectsMissingFile) {
  const absl::StatusOr<at::Tensor> read = ReadNpyFloat32(dir_.File("missing.npy"));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("missing.npy: cannot open"));
}

TEST_F(NpyTest, RejectsNonNpyFile) {
  const std::string path = dir_.File("text.npy");
  std::ofstream(path) << "just some text, long enough";
  EXPECT_THAT(std::string(ReadNpyFloat32(path).status().message()),
              AllOf(HasSubstr("text.npy"), HasSubstr("not a .npy file")));
}

TEST_F(NpyTest, RejectsMalformedHeaders) {
  struct Case {
    int version;
    std::string dictionary;
    int64_t values;
    std::string problem;
  };
  for (const Case& c : {
           Case{4, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 1, "npy format version 4"},
           Case{1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 4, "dtype '<f8' is not float32 '<f4'"},
           Case{1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 2, "dtype '>f4'"},
           Case{1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 4, "fortran_order is True"},
           Case{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 5, "shape (2, 3) needs 6 float32"},
           Case{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 2, "bad shape entry 'x'"},
           Case{1, "{'descr': '<f4', 'fortran_order': False, }", 2, "no 'shape'"},
       }) {
    EXPECT_THAT(ReadError(c.version, c.dictionary, c.values), AllOf(HasSubstr("bad.npy: "), HasSubstr(c.problem)));
  }
}

}  // namespace
}  // namespace deltaserve
