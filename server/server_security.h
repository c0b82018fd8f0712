#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace deltaserve::server {

// The files named by --tls-cert-file, --tls-key-file, --tls-client-ca-file and
// --auth-token-file ("" where a flag is not given).
struct SecurityFiles {
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  std::string auth_token_file;
};

// What the server needs of them, read once at start-up. Empty cert_pem: plaintext;
// empty client_ca_pem: no client certificates asked for; empty auth_token: no token.
struct ServerSecurity {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;
  std::string auth_token;

  bool tls() const { return !cert_pem.empty(); }
};

// Reads the files; INVALID_ARGUMENT naming the flag for a certificate without its key
// (or the other way round), a client CA without a server certificate, and unreadable
// or empty files.
absl::StatusOr<ServerSecurity> LoadServerSecurity(const SecurityFiles& files);

// Credentials of the main gRPC port: TLS when there is a certificate, requiring and
// verifying client certificates when there is a client CA.
std::shared_ptr<grpc::ServerCredentials> MainPortCredentials(const ServerSecurity& security);

}  // namespace deltaserve::server
