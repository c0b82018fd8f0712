#pragma once

// Hugging Face safetensors checkpoints, read without libtorch: each file is memory-mapped
// read-only and its tensors are views into the mapping, so opening a checkpoint copies no
// weight bytes. Format: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end)}}, then the data, offsets relative to
// its start.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/model_config.h"

namespace deltaserve {

// A whole file mapped read-only; unmapped when the last owner lets go.
class MappedFile {
 public:
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::filesystem::path& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::filesystem::path& path() const { return path_; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view text() const { return {reinterpret_cast<const char*>(data_), size_}; }

 private:
  MappedFile(std::filesystem::path path, const std::byte* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::filesystem::path path_;
  const std::byte* data_;
  size_t size_;
};

// One tensor inside a mapped file; `data` stays valid while that file's mapping lives.
struct TensorView {
  std::string name;
  WeightDtype dtype = WeightDtype::kFloat32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  size_t byte_size = 0;
  std::filesystem::path file;  // the .safetensors file holding it, for error messages
};

size_t DtypeSize(WeightDtype dtype);
// The safetensors spelling: "F32", "BF16", "F16".
std::string DtypeName(WeightDtype dtype);

// The tensors of one .safetensors file, sorted by name; `__metadata__` is ignored.
struct SafetensorsFile {
  std::shared_ptr<const MappedFile> mapping;
  std::vector<TensorView> tensors;
};

// Maps `path` and checks its header: length within the file, well-formed JSON, supported
// dtypes, offsets inside the data and matching shape * dtype size, no two tensors sharing
// bytes. Errors name the file and, where one is at fault, the tensor.
absl::StatusOr<SafetensorsFile> OpenSafetensors(const std::filesystem::path& path);

// Every tensor of a Hugging Face model directory, by name.
struct Checkpoint {
  std::filesystem::path source;  // model.safetensors or model.safetensors.index.json
  std::vector<std::shared_ptr<const MappedFile>> mappings;
  std::map<std::string, TensorView> tensors;
};

// Opens dir/model.safetensors, or else the shards that dir/model.safetensors.index.json
// names in its weight_map (each shard mapped once; every tensor of the weight_map must be
// in the shard it is listed under, and no tensor may appear in two shards).
absl::StatusOr<Checkpoint> OpenCheckpoint(const std::filesystem::path& dir);

}  // namespace deltaserve
