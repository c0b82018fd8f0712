#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace deltaserve::testing {

// A child process (no shell) that runs while the test talks to it; its stderr is
// captured, stdout goes to /dev/null. The destructor kills it if it still runs.
class BackgroundProcess {
 public:
  explicit BackgroundProcess(const std::vector<std::string>& argv);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // Reads stderr until it contains `text`; everything read so far, or nullopt when the
  // process closed stderr or the timeout passed first.
  std::optional<std::string> AwaitStderr(const std::string& text, std::chrono::milliseconds timeout);
  void Signal(int signal_number);
  // Waits for the exit; the exit code (128 + signal when killed by one) and the rest of
  // stderr appended to stderr_text().
  int Wait();
  const std::string& stderr_text() const { return stderr_; }

 private:
  bool ReadSome(int timeout_ms);

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string stderr_;
  std::optional<int> exit_code_;
};

}  // namespace deltaserve::testing
