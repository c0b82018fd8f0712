#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "engine/model/safetensors.h"
#include "tests/engine/model/safetensors_writer.h"
#include "tests/support/temp_dir.h"

namespace deltaserve {
namespace {

using test_support::TempDir;

namespace fs = std::filesystem;

std::string ViewBytes(const TensorView& view) {
  return std::string(reinterpret_cast<const char*>(view.data), view.byte_size);
}

TEST(SafetensorsViewsTest, ViewsMatchWhatWasWritten) {
  TempDir dir;
  const std::vector<TestTensor> written = {
      {"a.weight", "F32", {2, 3}, FloatBytes({1, 2, 3, 4, 5, 6})},
      {"b.weight", "BF16", {4}, Uint16Bytes({0x3F80, 0xC020, 0x0001, 0x7F7F})},
      {"c.weight", "F16", {1, 2}, Uint16Bytes({0x3C00, 0xC000})},
  };
  WriteSafetensors(dir.path() / "x.safetensors", written);

  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(dir.path() / "x.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors.size(), written.size());
  for (size_t i = 0; i < written.size(); ++i) {
    const TensorView& view = file->tensors[i];
    EXPECT_EQ(view.name, written[i].name);
    EXPECT_EQ(DtypeName(view.dtype), written[i].dtype);
    EXPECT_EQ(view.shape, written[i].shape);
    EXPECT_EQ(view.byte_size, written[i].bytes.size());
    EXPECT_EQ(ViewBytes(view), written[i].bytes);
    EXPECT_EQ(view.file, dir.path() / "x.safetensors");
  }
}

TEST(SafetensorsViewsTest, ViewsPointIntoTheMappingWithoutCopying) {
  TempDir dir;
  WriteSafetensors(dir.path() / "x.safetensors", {{"a", "F32", {4}, FloatBytes({1, 2, 3, 4})}});
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(dir.path() / "x.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  const TensorView& view = file->tensors.at(0);
  EXPECT_GE(view.data, file->mapping->data());
  EXPECT_EQ(view.data + view.byte_size, file->mapping->data() + file->mapping->size());
}

TEST(SafetensorsViewsTest, EmptyTensorHasNoBytes) {
  TempDir dir;
  WriteSafetensors(dir.path() / "x.safetensors",
                   {{"a.empty", "F32", {0, 4}, ""}, {"b.after", "F32", {1}, FloatBytes({7})}});
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(dir.path() / "x.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->tensors.at(0).shape, std::vector<int64_t>({0, 4}));
  EXPECT_EQ(file->tensors.at(0).byte_size, 0u);
  EXPECT_EQ(ViewBytes(file->tensors.at(1)), FloatBytes({7}));
}

TEST(SafetensorsViewsTest, ZeroDimensionalScalarHasOneElement) {
  TempDir dir;
  WriteSafetensors(dir.path() / "x.safetensors", {{"scale", "F32", {}, FloatBytes({0.5f})}});
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(dir.path() / "x.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->tensors.at(0).shape.empty());
  EXPECT_EQ(ViewBytes(file->tensors.at(0)), FloatBytes({0.5f}));
}

TEST(SafetensorsViewsTest, MetadataIsNotATensor) {
  TempDir dir;
  WriteRawSafetensors(
      dir.path() / "x.safetensors",
      R"({"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
      FloatBytes({1}));
  absl::StatusOr<SafetensorsFile> file = OpenSafetensors(dir.path() / "x.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors.size(), 1u);
  EXPECT_EQ(file->tensors[0].name, "a");
}

TEST(SafetensorsViewsTest, OpensStories260K) {
  absl::StatusOr<SafetensorsFile> file =
      OpenSafetensors(fs::path(DELTASERVE_SHARED_MODELS_DIR) / "stories260K" / "model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  // embed + final norm + 5 layers of 9 tensors; tied, so no lm_head.
  EXPECT_EQ(file->tensors.size(), 2u + 5u * 9u);
  EXPECT_EQ(file->tensors.at(0).name, "model.embed_tokens.weight");
  EXPECT_EQ(file->tensors.at(0).shape, std::vector<int64_t>({512, 64}));
  EXPECT_EQ(file->tensors.at(0).dtype, WeightDtype::kFloat32);
}

}  // namespace
}  // namespace deltaserve
