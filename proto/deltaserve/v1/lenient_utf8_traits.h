#pragma once

// Included by the generated generate_service.grpc.pb.h (grpc_cpp_plugin option
// additional_header_includes), after the message classes and before any gRPC template
// uses them, so that every translation unit sees the same serialization of the request
// types.
//
// Why: proto3 parsing refuses a string field holding invalid UTF-8, and gRPC's
// callback server then answers UNIMPLEMENTED with an empty message. The contract wants
// INVALID_ARGUMENT naming the field, so requests are parsed keeping such strings as
// they came; the server's validation rejects them with a proper message.

#include <grpcpp/impl/codegen/proto_utils.h>

#include "lenient/lenient_utf8_parse.h"

namespace grpc {

template <typename Message>
class LenientUtf8SerializationTraits {
 public:
  static Status Serialize(const Message& message, ByteBuffer* buffer, bool* own_buffer) {
    return GenericSerialize<ProtoBufferWriter, Message>(message, buffer, own_buffer);
  }
  static Status Deserialize(ByteBuffer* buffer, Message* message) {
    return deltaserve::proto::DeserializeKeepingInvalidUtf8(buffer, message);
  }
};

template <>
class SerializationTraits<deltaserve::v1::GenerateRequest>
    : public LenientUtf8SerializationTraits<deltaserve::v1::GenerateRequest> {};
template <>
class SerializationTraits<deltaserve::v1::GenerateStreamRequest>
    : public LenientUtf8SerializationTraits<deltaserve::v1::GenerateStreamRequest> {};
template <>
class SerializationTraits<deltaserve::v1::TokenizeRequest>
    : public LenientUtf8SerializationTraits<deltaserve::v1::TokenizeRequest> {};

}  // namespace grpc
