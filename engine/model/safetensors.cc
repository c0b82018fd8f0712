#include "engine/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/util/status_macros.h"

// The header length and all tensor data are little-endian; views hand them out as is.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors views need a little-endian host");

namespace deltaserve {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kHeaderLengthBytes = 8;

absl::Status ErrnoError(const fs::path& path, const std::string& action) {
  const int error = errno;
  std::string message = absl::StrCat(path.string(), ": cannot ", action, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

absl::Status FileError(const fs::path& path, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", message));
}

absl::Status TensorError(const fs::path& path, const std::string& name, const std::string& message) {
  return FileError(path, absl::StrCat("tensor '", name, "': ", message));
}

absl::StatusOr<json> ParseJsonObject(std::string_view text, const fs::path& path, const std::string& what) {
  json document;
  try {
    document = json::parse(text.begin(), text.end());
  } catch (const json::exception& error) {
    return FileError(path, absl::StrCat("malformed ", what, ": ", error.what()));
  }
  if (!document.is_object()) return FileError(path, absl::StrCat(what, " is not a JSON object"));
  return document;
}

absl::StatusOr<std::string_view> HeaderText(const MappedFile& file) {
  if (file.size() < kHeaderLengthBytes) {
    return FileError(file.path(), absl::StrCat("file of ", file.size(), " bytes is too short for the ",
                                               kHeaderLengthBytes, "-byte header length"));
  }
  uint64_t header_length = 0;
  std::memcpy(&header_length, file.data(), sizeof(header_length));
  if (header_length > file.size() - kHeaderLengthBytes) {
    return FileError(file.path(), absl::StrCat("header length ", header_length, " runs past the end of the ",
                                               file.size(), "-byte file"));
  }
  return file.text().substr(kHeaderLengthBytes, header_length);
}

absl::StatusOr<WeightDtype> ParseDtype(const json& entry, const fs::path& path, const std::string& name) {
  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) return TensorError(path, name, "dtype missing or not a string");
  const std::string text = dtype->get<std::string>();
  for (WeightDtype candidate : {WeightDtype::kFloat32, WeightDtype::kBFloat16, WeightDtype::kFloat16}) {
    if (text == DtypeName(candidate)) return candidate;
  }
  return TensorError(path, name, absl::StrCat("dtype ", text, " is not supported (F32, BF16, F16)"));
}

absl::StatusOr<std::vector<uint64_t>> ParseUnsignedList(const json& entry, const std::string& key, const fs::path& path,
                                                        const std::string& name) {
  const auto list = entry.find(key);
  if (list == entry.end() || !list->is_array()) {
    return TensorError(path, name, absl::StrCat(key, " missing or not a list"));
  }
  std::vector<uint64_t> numbers;
  for (const json& number : *list) {
    if (!number.is_number_unsigned() ||
        number.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return TensorError(path, name, absl::StrCat(key, " ", list->dump(), " must hold non-negative integers"));
    }
    numbers.push_back(number.get<uint64_t>());
  }
  return numbers;
}

// shape * dtype size, or nullopt when a hostile header makes it overflow.
std::optional<uint64_t> ByteSize(const std::vector<uint64_t>& shape, WeightDtype dtype) {
  uint64_t bytes = DtypeSize(dtype);
  for (uint64_t dim : shape) {
    if (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / dim) return std::nullopt;
    bytes *= dim;
  }
  return bytes;
}

std::string ShapeText(const std::vector<uint64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

absl::StatusOr<TensorView> ParseTensor(const std::string& name, const json& entry, const MappedFile& file,
                                       std::string_view header) {
  const fs::path& path = file.path();
  if (!entry.is_object()) return TensorError(path, name, "entry is not a JSON object");
  DS_ASSIGN_OR_RETURN(WeightDtype dtype, ParseDtype(entry, path, name));
  DS_ASSIGN_OR_RETURN(std::vector<uint64_t> shape, ParseUnsignedList(entry, "shape", path, name));
  DS_ASSIGN_OR_RETURN(std::vector<uint64_t> offsets, ParseUnsignedList(entry, "data_offsets", path, name));
  const size_t data_size = file.size() - kHeaderLengthBytes - header.size();
  if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size) {
    return TensorError(
        path, name,
        absl::StrCat("data_offsets ", ShapeText(offsets), " outside the ", data_size, "-byte data section"));
  }
  const uint64_t byte_size = offsets[1] - offsets[0];
  const std::optional<uint64_t> expected_size = ByteSize(shape, dtype);
  if (!expected_size.has_value() || *expected_size != byte_size) {
    return TensorError(
        path, name,
        absl::StrCat("data_offsets span ", byte_size, " bytes but shape ", ShapeText(shape), " of ", DtypeName(dtype),
                     " needs ", expected_size.has_value() ? absl::StrCat(*expected_size) : "more"));
  }
  TensorView view;
  view.name = name;
  view.dtype = dtype;
  view.shape.assign(shape.begin(), shape.end());
  view.data = file.data() + kHeaderLengthBytes + header.size() + offsets[0];
  view.byte_size = byte_size;
  view.file = path;
  return view;
}

// Two views of the same bytes would let one tensor's load clobber another's meaning.
absl::Status CheckNoOverlap(std::vector<TensorView> tensors, const fs::path& path) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorView& a, const TensorView& b) {
    return std::make_pair(a.data, a.byte_size) < std::make_pair(b.data, b.byte_size);
  });
  for (size_t i = 1; i < tensors.size(); ++i) {
    const TensorView& previous = tensors[i - 1];
    if (tensors[i].data < previous.data + previous.byte_size) {
      return FileError(
          path, absl::StrCat("tensors '", previous.name, "' and '", tensors[i].name, "' overlap in data_offsets"));
    }
  }
  return absl::OkStatus();
}

absl::Status AddTensors(const SafetensorsFile& file, Checkpoint& checkpoint) {
  checkpoint.mappings.push_back(file.mapping);
  for (const TensorView& view : file.tensors) {
    auto [existing, inserted] = checkpoint.tensors.emplace(view.name, view);
    if (!inserted) {
      return TensorError(view.file, view.name, absl::StrCat("also in ", existing->second.file.string()));
    }
  }
  return absl::OkStatus();
}

// The index's weight_map: tensor name -> shard file name. A shard must be a plain file
// name inside the model directory, never a path that escapes it.
absl::StatusOr<std::map<std::string, std::string>> ParseWeightMap(const MappedFile& index) {
  DS_ASSIGN_OR_RETURN(json document, ParseJsonObject(index.text(), index.path(), "index JSON"));
  const auto weight_map = document.find("weight_map");
  if (weight_map == document.end() || !weight_map->is_object()) {
    return FileError(index.path(), "weight_map: missing or not an object of tensor name -> shard file");
  }
  std::map<std::string, std::string> shards;
  for (const auto& [name, shard] : weight_map->items()) {
    const std::string file_name = shard.is_string() ? shard.get<std::string>() : "";
    if (file_name.empty() || file_name == "." || file_name == ".." || fs::path(file_name).filename() != file_name) {
      return FileError(index.path(), absl::StrCat("weight_map: tensor '", name, "': shard ", shard.dump(),
                                                  " is not a file name in the model directory"));
    }
    shards.emplace(name, file_name);
  }
  return shards;
}

absl::StatusOr<Checkpoint> OpenShardedCheckpoint(const fs::path& dir, const fs::path& index_path) {
  DS_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> index, MappedFile::Open(index_path));
  DS_ASSIGN_OR_RETURN(auto weight_map, ParseWeightMap(*index));
  Checkpoint checkpoint;
  checkpoint.source = index_path;
  std::set<std::string> shard_names;
  for (const auto& entry : weight_map) shard_names.insert(entry.second);
  for (const std::string& shard_name : shard_names) {
    DS_ASSIGN_OR_RETURN(SafetensorsFile shard, OpenSafetensors(dir / shard_name));
    DS_RETURN_IF_ERROR(AddTensors(shard, checkpoint));
  }
  for (const auto& [name, shard_name] : weight_map) {
    const auto found = checkpoint.tensors.find(name);
    if (found == checkpoint.tensors.end() || found->second.file != dir / shard_name) {
      return FileError(index_path, absl::StrCat("weight_map: tensor '", name, "' is not in shard ", shard_name));
    }
  }
  return checkpoint;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Open(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, "open");
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    absl::Status status = ErrnoError(path, "stat");
    ::close(fd);
    return status;
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(path.string(), ": not a regular file"));
  }
  const size_t size = static_cast<size_t>(info.st_size);
  // mmap rejects a zero length; an empty file is still a valid (if useless) mapping.
  void* data = size == 0 ? nullptr : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  absl::Status status = data == MAP_FAILED ? ErrnoError(path, "mmap") : absl::OkStatus();
  ::close(fd);
  if (!status.ok()) return status;
  return std::shared_ptr<const MappedFile>(new MappedFile(path, static_cast<const std::byte*>(data), size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

size_t DtypeSize(WeightDtype dtype) { return dtype == WeightDtype::kFloat32 ? 4 : 2; }

std::string DtypeName(WeightDtype dtype) {
  switch (dtype) {
    case WeightDtype::kFloat32:
      return "F32";
    case WeightDtype::kBFloat16:
      return "BF16";
    case WeightDtype::kFloat16:
      return "F16";
  }
  return "unknown";
}

absl::StatusOr<SafetensorsFile> OpenSafetensors(const fs::path& path) {
  SafetensorsFile file;
  DS_ASSIGN_OR_RETURN(file.mapping, MappedFile::Open(path));
  DS_ASSIGN_OR_RETURN(std::string_view header, HeaderText(*file.mapping));
  DS_ASSIGN_OR_RETURN(json document, ParseJsonObject(header, path, "header JSON"));
  for (const auto& [name, entry] : document.items()) {
    if (name == "__metadata__") continue;
    DS_ASSIGN_OR_RETURN(TensorView view, ParseTensor(name, entry, *file.mapping, header));
    file.tensors.push_back(std::move(view));
  }
  DS_RETURN_IF_ERROR(CheckNoOverlap(file.tensors, path));
  return file;
}

absl::StatusOr<Checkpoint> OpenCheckpoint(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": model directory not found or not a directory"));
  }
  const fs::path single_path = dir / "model.safetensors";
  const fs::path index_path = dir / "model.safetensors.index.json";
  if (fs::exists(single_path, error)) {
    Checkpoint checkpoint;
    checkpoint.source = single_path;
    DS_ASSIGN_OR_RETURN(SafetensorsFile file, OpenSafetensors(single_path));
    DS_RETURN_IF_ERROR(AddTensors(file, checkpoint));
    return checkpoint;
  }
  if (fs::exists(index_path, error)) return OpenShardedCheckpoint(dir, index_path);
  return absl::NotFoundError(
      absl::StrCat(dir.string(), ": neither model.safetensors nor model.safetensors.index.json"));
}

}  // namespace deltaserve
