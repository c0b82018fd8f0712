#include "server/bearer_token_auth.h"

#include <cstdint>

namespace deltaserve::server {
namespace {

constexpr char kScheme[] = "Bearer ";

// Takes as long for a near miss as for a far one, so response times do not reveal how
// much of a guess was right. Only the given length (known to the caller) shapes timing.
bool ConstantTimeEquals(const std::string& expected, grpc::string_ref given) {
  uint8_t difference = given.size() != expected.size() ? 1 : 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char given_byte = i < given.size() ? given.data()[i] : '\0';
    difference |= static_cast<uint8_t>(expected[i] ^ given_byte);
  }
  return difference == 0;
}

grpc::Status Unauthenticated(const std::string& why) {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why);
}

}  // namespace

grpc::Status BearerTokenAuth::Check(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  if (found == metadata.end()) {
    return Unauthenticated("missing 'authorization' metadata: this server wants 'authorization: Bearer <token>'");
  }
  const grpc::string_ref value = found->second;
  const size_t scheme_length = sizeof(kScheme) - 1;
  if (value.size() < scheme_length || value.substr(0, scheme_length) != kScheme) {
    return Unauthenticated("'authorization' metadata is not of the form 'Bearer <token>'");
  }
  if (!ConstantTimeEquals(token_, value.substr(scheme_length))) {
    return Unauthenticated("the bearer token in 'authorization' is not the one this server accepts");
  }
  return grpc::Status::OK;
}

}  // namespace deltaserve::server
