#pragma once

// A fresh directory for one test's files under gtest's temp dir, removed with all it
// holds when the object goes: tests write nowhere else (../shared is read-only in CI).

#include <ftw.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace deltaserve::test_support {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "deltaserve") {
    std::string pattern = ::testing::TempDir() + prefix + "-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed for " << pattern;
      return;
    }
    path_ = pattern;
  }
  ~TempDir() {
    // nftw, not std::filesystem::remove_all: PyTorch 2.11's libtorch.so exports its own
    // copy of that function, and test binaries linked against it crashed in it.
    if (!path_.empty()) {
      nftw(
          path_.c_str(), [](const char* file, const struct stat*, int, struct FTW*) { return std::remove(file); }, 16,
          FTW_DEPTH | FTW_PHYS);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // False when the directory could not be made (the test has failed already).
  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace deltaserve::test_support
