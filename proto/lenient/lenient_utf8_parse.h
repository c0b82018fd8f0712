#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

namespace deltaserve::proto {

// Parses buffer into message like protobuf does, except that string fields (at any
// depth) holding invalid UTF-8 keep their bytes instead of failing the parse; the caller
// validates them. Fails only on bytes that are no message of this type.
grpc::Status DeserializeKeepingInvalidUtf8(grpc::ByteBuffer* buffer, google::protobuf::Message* message);

}  // namespace deltaserve::proto
