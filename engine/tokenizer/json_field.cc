#include "engine/tokenizer/json_field.h"

#include "absl/strings/str_cat.h"

namespace deltaserve::tokenization {

absl::Status JsonField::Error(std::string_view problem) const {
  return absl::InvalidArgumentError(
      absl::StrCat(file_, ": field ", path_.empty() ? "(root)" : path_, ": ", std::string(problem)));
}

absl::Status JsonField::TypeError(std::string_view expected) const {
  return Error(absl::StrCat("expected ", std::string(expected), ", got ", value_->type_name()));
}

absl::StatusOr<std::optional<JsonField>> JsonField::Find(std::string_view key) const {
  if (!value_->is_object()) return TypeError("an object");
  const std::string name(key);
  const auto it = value_->find(name);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return JsonField(*it, file_, path_.empty() ? name : absl::StrCat(path_, ".", name));
}

absl::StatusOr<JsonField> JsonField::Get(std::string_view key) const {
  auto member = Find(key);
  if (!member.ok()) return member.status();
  if (!member->has_value()) {
    return Error(absl::StrCat("missing member \"", std::string(key), "\""));
  }
  return **member;
}

absl::StatusOr<std::vector<JsonField>> JsonField::Elements() const {
  if (!value_->is_array()) return TypeError("an array");
  std::vector<JsonField> elements;
  elements.reserve(value_->size());
  for (size_t i = 0; i < value_->size(); ++i) {
    elements.emplace_back((*value_)[i], file_, absl::StrCat(path_, "[", i, "]"));
  }
  return elements;
}

absl::StatusOr<std::vector<std::pair<std::string, JsonField>>> JsonField::Members() const {
  if (!value_->is_object()) return TypeError("an object");
  std::vector<std::pair<std::string, JsonField>> members;
  members.reserve(value_->size());
  for (const auto& [key, value] : value_->items()) {
    members.emplace_back(key, JsonField(value, file_, absl::StrCat(path_, ".", key)));
  }
  return members;
}

absl::StatusOr<std::string> JsonField::String() const {
  if (!value_->is_string()) return TypeError("a string");
  return value_->get<std::string>();
}

absl::StatusOr<int64_t> JsonField::Int() const {
  if (!value_->is_number_integer()) return TypeError("an integer");
  return value_->get<int64_t>();
}

absl::StatusOr<bool> JsonField::Bool() const {
  if (!value_->is_boolean()) return TypeError("a boolean");
  return value_->get<bool>();
}

absl::StatusOr<bool> JsonField::BoolOr(std::string_view key, bool fallback) const {
  auto member = Find(key);
  if (!member.ok()) return member.status();
  if (!member->has_value()) return fallback;
  return (*member)->Bool();
}

}  // namespace deltaserve::tokenization
