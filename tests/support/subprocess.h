#pragma once

#include <string>
#include <vector>

namespace deltaserve::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv (no shell) with `input` on stdin and returns its exit code and output.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "");

}  // namespace deltaserve::testing
