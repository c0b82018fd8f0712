#include "tests/engine/model/safetensors_writer.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "engine/model/safetensors.h"

namespace deltaserve {

void WriteTextFile(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

void WriteRawSafetensors(const std::filesystem::path& file, const std::string& header, const std::string& data) {
  const uint64_t length = header.size();
  std::string length_bytes(sizeof(length), '\0');
  std::memcpy(length_bytes.data(), &length, sizeof(length));  // little-endian host, like the format
  WriteTextFile(file, length_bytes + header + data);
}

void WriteSafetensors(const std::filesystem::path& file, const std::vector<TestTensor>& tensors, bool misalign_data) {
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
  std::string data;
  for (const TestTensor& tensor : tensors) {
    header[tensor.name] = {{"dtype", tensor.dtype},
                           {"shape", tensor.shape},
                           {"data_offsets", {data.size(), data.size() + tensor.bytes.size()}}};
    data += tensor.bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  if (misalign_data) header_text += ' ';
  WriteRawSafetensors(file, header_text, data);
}

namespace {

std::string ShardName(int shard, int shard_count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", shard + 1, shard_count);
  return name;
}

}  // namespace

void WriteShardedCheckpoint(const std::filesystem::path& dir, const std::vector<TestTensor>& tensors, int shard_count) {
  std::vector<std::vector<TestTensor>> shards(shard_count);
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int shard = static_cast<int>(i % shard_count);
    shards[shard].push_back(tensors[i]);
    weight_map[tensors[i].name] = ShardName(shard, shard_count);
  }
  for (int shard = 0; shard < shard_count; ++shard) {
    WriteSafetensors(dir / ShardName(shard, shard_count), shards[shard]);
  }
  const nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}};
  WriteTextFile(dir / "model.safetensors.index.json", index.dump(2));
}

std::string FloatBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

std::string Uint16Bytes(const std::vector<uint16_t>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(uint16_t));
}

std::map<std::string, TestTensor> ReadTestTensors(const std::filesystem::path& file) {
  absl::StatusOr<SafetensorsFile> opened = OpenSafetensors(file);
  if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
  std::map<std::string, TestTensor> tensors;
  for (const TensorView& view : opened->tensors) {
    tensors[view.name] = {view.name, DtypeName(view.dtype), view.shape,
                          std::string(reinterpret_cast<const char*>(view.data), view.byte_size)};
  }
  return tensors;
}

std::vector<TestTensor> Values(const std::map<std::string, TestTensor>& tensors) {
  std::vector<TestTensor> values;
  for (const auto& entry : tensors) values.push_back(entry.second);
  return values;
}

}  // namespace deltaserve
