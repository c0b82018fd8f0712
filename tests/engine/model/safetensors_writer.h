#pragma once

// A tiny safetensors writer so tests can build exactly the checkpoint (or the broken
// file) they need in a temp dir.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace deltaserve {

struct TestTensor {
  std::string name;
  std::string dtype;  // safetensors spelling, e.g. "F32"; any string, to test rejects
  std::vector<int64_t> shape;
  std::string bytes;
};

// Header length, header and data verbatim: for files a correct writer never makes.
void WriteRawSafetensors(const std::filesystem::path& file, const std::string& header, const std::string& data);

// Lays the tensors out back to back in the given order. The official writer pads the
// header to 8 bytes so data is aligned; `misalign_data` shifts it by one byte instead.
void WriteSafetensors(const std::filesystem::path& file, const std::vector<TestTensor>& tensors,
                      bool misalign_data = false);

// Splits tensors round-robin over `shard_count` shard files and writes
// model.safetensors.index.json naming them.
void WriteShardedCheckpoint(const std::filesystem::path& dir, const std::vector<TestTensor>& tensors, int shard_count);

void WriteTextFile(const std::filesystem::path& file, const std::string& text);

std::string FloatBytes(const std::vector<float>& values);
std::string Uint16Bytes(const std::vector<uint16_t>& values);

// Every tensor of a safetensors file, copied out, keyed by name.
std::map<std::string, TestTensor> ReadTestTensors(const std::filesystem::path& file);

std::vector<TestTensor> Values(const std::map<std::string, TestTensor>& tensors);

}  // namespace deltaserve
