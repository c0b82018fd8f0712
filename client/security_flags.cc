#include "client/security_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "engine/util/flag_file.h"
#include "engine/util/status_macros.h"

ABSL_FLAG(std::string, tls_ca_file, "", "PEM roots that sign the server's certificate; turns TLS on");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM client certificate for servers that require one (with --tls-key-file)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls-cert-file");
ABSL_FLAG(std::string, auth_token_file, "", "file holding the bearer token the server asks for");

namespace deltaserve::client {

absl::StatusOr<ClientSecurity> ClientSecurityFromFlags() {
  const std::string ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  const std::string cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string key_file = absl::GetFlag(FLAGS_tls_key_file);
  const std::string token_file = absl::GetFlag(FLAGS_auth_token_file);
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert-file and --tls-key-file: give both or neither");
  }
  ClientSecurity security;
  security.tls = !ca_file.empty() || !cert_file.empty();
  if (!ca_file.empty()) {
    DS_ASSIGN_OR_RETURN(security.ca_pem, ReadFlagFile(ca_file, "--tls-ca-file"));
  }
  if (!cert_file.empty()) {
    DS_ASSIGN_OR_RETURN(security.cert_pem, ReadFlagFile(cert_file, "--tls-cert-file"));
    DS_ASSIGN_OR_RETURN(security.key_pem, ReadFlagFile(key_file, "--tls-key-file"));
  }
  if (!token_file.empty()) {
    DS_ASSIGN_OR_RETURN(security.auth_token, ReadTokenFile(token_file, "--auth-token-file"));
  }
  return security;
}

}  // namespace deltaserve::client
