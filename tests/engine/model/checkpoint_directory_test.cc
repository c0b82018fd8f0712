#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "engine/model/safetensors.h"
#include "tests/engine/model/safetensors_writer.h"
#include "tests/support/temp_dir.h"

namespace deltaserve {
namespace {

using test_support::TempDir;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

const std::vector<TestTensor> kTensors = {
    {"a.weight", "F32", {2}, FloatBytes({1, 2})},
    {"b.weight", "F32", {1}, FloatBytes({3})},
    {"c.weight", "BF16", {2}, Uint16Bytes({0x3F80, 0x4000})},
};

void ExpectAllTensors(const Checkpoint& checkpoint) {
  ASSERT_EQ(checkpoint.tensors.size(), kTensors.size());
  for (const TestTensor& tensor : kTensors) {
    const TensorView& view = checkpoint.tensors.at(tensor.name);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(view.data), view.byte_size), tensor.bytes) << tensor.name;
  }
}

TEST(CheckpointDirectoryTest, OpensASingleFile) {
  TempDir dir;
  WriteSafetensors(dir.path() / "model.safetensors", kTensors);
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->source, dir.path() / "model.safetensors");
  EXPECT_EQ(checkpoint->mappings.size(), 1u);
  ExpectAllTensors(*checkpoint);
}

TEST(CheckpointDirectoryTest, MapsEachShardOnce) {
  TempDir dir;
  WriteShardedCheckpoint(dir.path(), kTensors, 2);
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->source, dir.path() / "model.safetensors.index.json");
  EXPECT_EQ(checkpoint->mappings.size(), 2u);
  ExpectAllTensors(*checkpoint);
  EXPECT_EQ(checkpoint->tensors.at("a.weight").file, dir.path() / "model-00001-of-00002.safetensors");
  EXPECT_EQ(checkpoint->tensors.at("b.weight").file, dir.path() / "model-00002-of-00002.safetensors");
}

TEST(CheckpointDirectoryTest, MissingDirectoryIsNamed) {
  TempDir dir;
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path() / "gone");
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_EQ(checkpoint.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(checkpoint.status()), HasSubstr((dir.path() / "gone").string() + ": model directory"));
}

TEST(CheckpointDirectoryTest, DirectoryWithoutWeightsSaysWhatItLookedFor) {
  TempDir dir;
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_EQ(checkpoint.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(checkpoint.status()),
              HasSubstr(dir.path().string() + ": neither model.safetensors nor model.safetensors.index.json"));
}

TEST(CheckpointDirectoryTest, ErrorsInsideAShardNameTheShard) {
  TempDir dir;
  WriteShardedCheckpoint(dir.path(), kTensors, 2);
  WriteTextFile(dir.path() / "model-00002-of-00002.safetensors", "short");
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_THAT(Message(checkpoint.status()),
              HasSubstr((dir.path() / "model-00002-of-00002.safetensors").string() + ": file of 5 bytes"));
}

TEST(CheckpointDirectoryTest, MissingShardIsNamed) {
  TempDir dir;
  WriteShardedCheckpoint(dir.path(), kTensors, 2);
  fs::remove(dir.path() / "model-00001-of-00002.safetensors");
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_EQ(checkpoint.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(checkpoint.status()), HasSubstr((dir.path() / "model-00001-of-00002.safetensors").string()));
}

TEST(CheckpointDirectoryTest, TensorListedUnderTheWrongShardIsNamed) {
  TempDir dir;
  WriteSafetensors(dir.path() / "one.safetensors", {kTensors[0]});
  WriteSafetensors(dir.path() / "two.safetensors", {kTensors[1]});
  WriteTextFile(dir.path() / "model.safetensors.index.json",
                R"({"weight_map": {"a.weight": "two.safetensors", "b.weight": "two.safetensors"}})");
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_THAT(Message(checkpoint.status()),
              HasSubstr((dir.path() / "model.safetensors.index.json").string() +
                        ": weight_map: tensor 'a.weight' is not in shard two.safetensors"));
}

TEST(CheckpointDirectoryTest, TensorInTwoShardsIsNamed) {
  TempDir dir;
  WriteSafetensors(dir.path() / "one.safetensors", {kTensors[0], kTensors[1]});
  WriteSafetensors(dir.path() / "two.safetensors", {kTensors[1]});
  WriteTextFile(dir.path() / "model.safetensors.index.json",
                R"({"weight_map": {"a.weight": "one.safetensors", "b.weight": "two.safetensors"}})");
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_THAT(Message(checkpoint.status()), HasSubstr("tensor 'b.weight': also in "));
}

TEST(CheckpointDirectoryTest, ShardOutsideTheModelDirectoryIsRejected) {
  TempDir dir;
  WriteTextFile(dir.path() / "model.safetensors.index.json",
                R"({"weight_map": {"a.weight": "../elsewhere/model.safetensors"}})");
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_THAT(Message(checkpoint.status()),
              HasSubstr("weight_map: tensor 'a.weight': shard \"../elsewhere/model.safetensors\" is not a file name"));
}

TEST(CheckpointDirectoryTest, IndexWithoutWeightMapIsNamed) {
  TempDir dir;
  WriteTextFile(dir.path() / "model.safetensors.index.json", R"({"metadata": {}})");
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_THAT(Message(checkpoint.status()),
              HasSubstr((dir.path() / "model.safetensors.index.json").string() + ": weight_map: missing"));
}

TEST(CheckpointDirectoryTest, MalformedIndexIsNamed) {
  TempDir dir;
  WriteTextFile(dir.path() / "model.safetensors.index.json", "{\"weight_map\": ");
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(dir.path());
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_THAT(Message(checkpoint.status()),
              HasSubstr((dir.path() / "model.safetensors.index.json").string() + ": malformed index JSON"));
}

}  // namespace
}  // namespace deltaserve
