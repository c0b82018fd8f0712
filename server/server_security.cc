#include "server/server_security.h"

#include "engine/util/flag_file.h"
#include "engine/util/status_macros.h"

namespace deltaserve::server {

absl::StatusOr<ServerSecurity> LoadServerSecurity(const SecurityFiles& files) {
  if (files.tls_cert_file.empty() != files.tls_key_file.empty()) {
    return absl::InvalidArgumentError(files.tls_cert_file.empty()
                                          ? "--tls-key-file needs --tls-cert-file: give both or neither"
                                          : "--tls-cert-file needs --tls-key-file: give both or neither");
  }
  if (!files.tls_client_ca_file.empty() && files.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-client-ca-file needs --tls-cert-file and --tls-key-file: client certificates only exist over TLS");
  }
  ServerSecurity security;
  if (!files.tls_cert_file.empty()) {
    DS_ASSIGN_OR_RETURN(security.cert_pem, ReadFlagFile(files.tls_cert_file, "--tls-cert-file"));
    DS_ASSIGN_OR_RETURN(security.key_pem, ReadFlagFile(files.tls_key_file, "--tls-key-file"));
  }
  if (!files.tls_client_ca_file.empty()) {
    DS_ASSIGN_OR_RETURN(security.client_ca_pem,
                        ReadFlagFile(files.tls_client_ca_file, "--tls-client-ca-file"));
  }
  if (!files.auth_token_file.empty()) {
    DS_ASSIGN_OR_RETURN(security.auth_token, ReadTokenFile(files.auth_token_file, "--auth-token-file"));
  }
  return security;
}

std::shared_ptr<grpc::ServerCredentials> MainPortCredentials(const ServerSecurity& security) {
  if (!security.tls()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(security.client_ca_pem.empty()
                                                ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = security.client_ca_pem;
  options.pem_key_cert_pairs.push_back({security.key_pem, security.cert_pem});
  return grpc::SslServerCredentials(options);
}

}  // namespace deltaserve::server
