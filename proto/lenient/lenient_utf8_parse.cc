#include "lenient/lenient_utf8_parse.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/common.h>
#include <google/protobuf/unknown_field_set.h>

namespace deltaserve::proto {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Where a string sits: each step is a field and, for repeated fields, the element index.
using FieldPath = std::vector<std::pair<const FieldDescriptor*, int>>;

struct SetAside {
  FieldPath path;
  std::string bytes;
};

// Re-encodes `bytes` (a message of `type`) with every invalid-UTF-8 string emptied and
// recorded in set_aside. False when the bytes are not a message at all.
bool EmptyInvalidStrings(const std::string& bytes, const Descriptor& type, const FieldPath& prefix,
                         std::string* out, std::vector<SetAside>* set_aside) {
  UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return false;
  std::map<int, int> occurrences;
  for (int i = 0; i < fields.field_count(); ++i) {
    UnknownField* field = fields.mutable_field(i);
    const FieldDescriptor* descriptor = type.FindFieldByNumber(field->number());
    const int occurrence = occurrences[field->number()]++;
    if (descriptor == nullptr || field->type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    FieldPath path = prefix;
    path.emplace_back(descriptor, descriptor->is_repeated() ? occurrence : -1);
    if (descriptor->type() == FieldDescriptor::TYPE_STRING) {
      if (google::protobuf::internal::IsStructurallyValidUTF8(field->length_delimited())) continue;
      set_aside->push_back(SetAside{std::move(path), field->length_delimited()});
      field->mutable_length_delimited()->clear();
    } else if (descriptor->type() == FieldDescriptor::TYPE_MESSAGE) {
      std::string inner;
      if (!EmptyInvalidStrings(field->length_delimited(), *descriptor->message_type(), path, &inner, set_aside)) {
        return false;
      }
      *field->mutable_length_delimited() = std::move(inner);
    }
  }
  return fields.SerializeToString(out);
}

// Reflection setters do not check UTF-8: the bytes go back exactly where they were.
void PutBack(const SetAside& item, Message* message) {
  Message* owner = message;
  for (size_t step = 0; step + 1 < item.path.size(); ++step) {
    const auto& [field, index] = item.path[step];
    owner = index < 0 ? owner->GetReflection()->MutableMessage(owner, field)
                      : owner->GetReflection()->MutableRepeatedMessage(owner, field, index);
  }
  const auto& [field, index] = item.path.back();
  if (index < 0) {
    owner->GetReflection()->SetString(owner, field, item.bytes);
  } else {
    owner->GetReflection()->SetRepeatedString(owner, field, index, item.bytes);
  }
}

}  // namespace

grpc::Status DeserializeKeepingInvalidUtf8(grpc::ByteBuffer* buffer, Message* message) {
  std::vector<grpc::Slice> slices;
  const grpc::Status dumped = buffer->Dump(&slices);
  buffer->Clear();
  if (!dumped.ok()) return dumped;
  std::string bytes;
  for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());

  std::vector<SetAside> set_aside;
  std::string repaired;
  if (!EmptyInvalidStrings(bytes, *message->GetDescriptor(), {}, &repaired, &set_aside) ||
      !message->ParseFromString(repaired)) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the request bytes are not a " + message->GetDescriptor()->full_name());
  }
  for (const SetAside& item : set_aside) PutBack(item, message);
  return grpc::Status::OK;
}

}  // namespace deltaserve::proto
