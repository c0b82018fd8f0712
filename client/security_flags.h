#pragma once

#include "absl/status/statusor.h"
#include "client/deltaserve_client.h"

namespace deltaserve::client {

// --tls-ca-file, --tls-cert-file, --tls-key-file and --auth-token-file, shared by
// deltaserve-cli and deltaserve-bench. Any --tls-* flag turns TLS on; a client
// certificate needs its key and the other way round.
absl::StatusOr<ClientSecurity> ClientSecurityFromFlags();

}  // namespace deltaserve::client
