#include "engine/attention/npy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "engine/util/status_macros.h"

namespace deltaserve {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

absl::Status Invalid(const std::string& path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

uint32_t LittleEndian(const std::string& bytes, size_t offset, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

// The text after `'key':` in the header dictionary, up to the end of the header.
absl::StatusOr<absl::string_view> ValueOf(const std::string& path, absl::string_view header,
                                           absl::string_view key) {
  const std::string quoted = absl::StrCat("'", key, "'");
  const size_t at = header.find(quoted);
  if (at == absl::string_view::npos) return Invalid(path, absl::StrCat("npy header has no ", quoted));
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(header.substr(at + quoted.size()));
  if (!absl::ConsumePrefix(&rest, ":")) return Invalid(path, absl::StrCat("npy header: no ':' after ", quoted));
  return absl::StripLeadingAsciiWhitespace(rest);
}

absl::Status CheckDescr(const std::string& path, absl::string_view header) {
  DS_ASSIGN_OR_RETURN(absl::string_view value, ValueOf(path, header, "descr"));
  if (absl::StartsWith(value, "'<f4'")) return absl::OkStatus();
  const absl::string_view shown = value.substr(0, value.find_first_of(",}"));
  return Invalid(path, absl::StrCat("dtype ", shown, " is not float32 '<f4'"));
}

absl::Status CheckCOrder(const std::string& path, absl::string_view header) {
  DS_ASSIGN_OR_RETURN(absl::string_view value, ValueOf(path, header, "fortran_order"));
  if (absl::StartsWith(value, "False")) return absl::OkStatus();
  if (absl::StartsWith(value, "True")) return Invalid(path, "fortran_order is True; expected C order");
  return Invalid(path, "npy header: fortran_order is neither True nor False");
}

absl::StatusOr<std::vector<int64_t>> ParseShape(const std::string& path, absl::string_view header) {
  DS_ASSIGN_OR_RETURN(absl::string_view value, ValueOf(path, header, "shape"));
  const size_t close = value.find(')');
  if (!absl::ConsumePrefix(&value, "(") || close == absl::string_view::npos) {
    return Invalid(path, "npy header: shape is not a tuple");
  }
  const absl::string_view items = value.substr(0, close - 1);  // close counted the '(' consumed above
  std::vector<int64_t> shape;
  for (absl::string_view item : absl::StrSplit(items, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    int64_t extent = 0;
    if (!absl::SimpleAtoi(item, &extent) || extent < 0) {
      return Invalid(path, absl::StrCat("npy header: bad shape entry '", item, "'"));
    }
    shape.push_back(extent);
  }
  return shape;
}

// Elements of `shape`, or an error when the count does not fit in int64.
absl::StatusOr<int64_t> ElementCount(const std::string& path, const std::vector<int64_t>& shape) {
  int64_t elements = 1;
  for (int64_t extent : shape) {
    if (extent != 0 && elements > std::numeric_limits<int64_t>::max() / extent) {
      return Invalid(path, absl::StrCat("shape (", absl::StrJoin(shape, ", "), ") is too large"));
    }
    elements *= extent;
  }
  return elements;
}

}  // namespace

absl::StatusOr<at::Tensor> ReadNpyFloat32(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.size() < kMagicSize + 4 || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    return Invalid(path, "not a .npy file (bad magic)");
  }
  const int major = static_cast<unsigned char>(bytes[kMagicSize]);
  if (major < 1 || major > 3) return Invalid(path, absl::StrCat("npy format version ", major, " is not 1, 2 or 3"));
  // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
  const size_t length_width = major == 1 ? 2 : 4;
  const size_t header_begin = kMagicSize + 2 + length_width;
  if (bytes.size() < header_begin) return Invalid(path, "truncated npy preamble");
  const size_t header_size = LittleEndian(bytes, kMagicSize + 2, length_width);
  if (bytes.size() < header_begin + header_size) return Invalid(path, "truncated npy header");
  const absl::string_view header(bytes.data() + header_begin, header_size);

  DS_RETURN_IF_ERROR(CheckDescr(path, header));
  DS_RETURN_IF_ERROR(CheckCOrder(path, header));
  DS_ASSIGN_OR_RETURN(std::vector<int64_t> shape, ParseShape(path, header));

  DS_ASSIGN_OR_RETURN(const int64_t elements, ElementCount(path, shape));
  const size_t data_size = bytes.size() - header_begin - header_size;
  if (data_size % sizeof(float) != 0 || data_size / sizeof(float) != static_cast<size_t>(elements)) {
    return Invalid(path, absl::StrCat("shape (", absl::StrJoin(shape, ", "), ") needs ", elements,
                                      " float32 values, file has ", data_size, " data bytes"));
  }
  at::Tensor tensor = at::empty(shape, at::kFloat);
  if (data_size > 0) std::memcpy(tensor.data_ptr<float>(), bytes.data() + header_begin + header_size, data_size);
  return tensor;
}

absl::Status WriteNpyFloat32(const std::string& path, const at::Tensor& tensor) {
  if (tensor.scalar_type() != at::kFloat) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": only float32 tensors are written"));
  }
  const at::Tensor data = tensor.contiguous();
  const std::string shape_items = absl::StrJoin(data.sizes(), ", ");
  // A one-element tuple needs its trailing comma to stay a tuple.
  const std::string shape = data.dim() == 1 ? absl::StrCat("(", shape_items, ",)") : absl::StrCat("(", shape_items, ")");
  std::string header = absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': ", shape, ", }");
  // The format pads the header with spaces and a newline so that data starts 64-aligned.
  const size_t preamble = kMagicSize + 2 + 2;
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header.push_back('\n');

  std::ofstream file(path, std::ios::binary);
  if (!file) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot create file"));
  const char version_and_length[4] = {1, 0, static_cast<char>(header.size() & 0xff),
                                      static_cast<char>(header.size() >> 8)};
  file.write(kMagic, kMagicSize);
  file.write(version_and_length, sizeof(version_and_length));
  file.write(header.data(), static_cast<std::streamsize>(header.size()));
  file.write(reinterpret_cast<const char*>(data.data_ptr<float>()),
             static_cast<std::streamsize>(data.numel() * sizeof(float)));
  if (!file) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace deltaserve
