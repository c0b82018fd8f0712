#pragma once

#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>

namespace deltaserve::server {

// The --auth-token-file check: a call passes when its metadata carries
// "authorization: Bearer <token>". Every GenerateService handler asks it first; health
// and reflection never do, so probes and tooling need no token.
class BearerTokenAuth {
 public:
  // An empty token lets every call pass.
  explicit BearerTokenAuth(std::string token) : token_(std::move(token)) {}

  // OK, or UNAUTHENTICATED saying what is missing or wrong (never the token).
  grpc::Status Check(const grpc::ServerContextBase& context) const;

 private:
  std::string token_;
};

}  // namespace deltaserve::server
