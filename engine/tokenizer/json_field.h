#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace deltaserve::tokenization {

// A value inside a parsed JSON file that knows where it came from, so that every error
// reads "<file>: field <path>: <problem>".
class JsonField {
 public:
  JsonField(const nlohmann::json& value, std::string file, std::string path)
      : value_(&value), file_(std::move(file)), path_(std::move(path)) {}

  // A member that must be present and not null.
  absl::StatusOr<JsonField> Get(std::string_view key) const;
  // A member that may be absent or null.
  absl::StatusOr<std::optional<JsonField>> Find(std::string_view key) const;
  absl::StatusOr<std::vector<JsonField>> Elements() const;
  // Members of an object, sorted by key.
  absl::StatusOr<std::vector<std::pair<std::string, JsonField>>> Members() const;

  absl::StatusOr<std::string> String() const;
  absl::StatusOr<int64_t> Int() const;
  absl::StatusOr<bool> Bool() const;
  // A boolean member that defaults to `fallback` when absent or null.
  absl::StatusOr<bool> BoolOr(std::string_view key, bool fallback) const;

  bool is_string() const { return value_->is_string(); }
  bool is_object() const { return value_->is_object(); }
  bool is_array() const { return value_->is_array(); }
  const nlohmann::json& json() const { return *value_; }
  const std::string& path() const { return path_; }

  absl::Status Error(std::string_view problem) const;

 private:
  absl::Status TypeError(std::string_view expected) const;

  const nlohmann::json* value_;
  std::string file_;
  std::string path_;
};

}  // namespace deltaserve::tokenization
