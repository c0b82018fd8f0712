#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace deltaserve {

// The contents of the file a flag names (certificates, keys, tokens). Unreadable or empty
// files are INVALID_ARGUMENT naming the flag and the path: a half-configured TLS or
// token setup must stop the program, not fall back to plaintext or no auth.
absl::StatusOr<std::string> ReadFlagFile(const std::string& path, const std::string& flag);

// A bearer token from its file, without surrounding whitespace (secret files usually end
// in a newline, which no client sends).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path, const std::string& flag);

}  // namespace deltaserve
