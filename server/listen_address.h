#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace deltaserve::server {

struct ListenAddress {
  std::string host;
  int port = 0;  // 0: any free port
};

// "host:port" or "[v6 host]:port"; INVALID_ARGUMENT naming flag otherwise.
absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& text, const std::string& flag);

}  // namespace deltaserve::server
