#include "tests/support/background_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

namespace deltaserve::testing {

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv) {
  int err_pipe[2];
  if (pipe(err_pipe) != 0) throw std::runtime_error("pipe");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork");
  if (pid_ == 0) {
    const int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    close(err_pipe[0]);
    close(err_pipe[1]);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(err_pipe[1]);
  stderr_fd_ = err_pipe[0];
}

BackgroundProcess::~BackgroundProcess() {
  if (!exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    Wait();
  }
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

bool BackgroundProcess::ReadSome(int timeout_ms) {
  pollfd fd{stderr_fd_, POLLIN, 0};
  if (poll(&fd, 1, timeout_ms) <= 0) return false;
  char buffer[4096];
  const ssize_t n = read(stderr_fd_, buffer, sizeof(buffer));
  if (n <= 0) return false;
  stderr_.append(buffer, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> BackgroundProcess::AwaitStderr(const std::string& text,
                                                          std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (stderr_.find(text) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !ReadSome(static_cast<int>(left.count()))) return std::nullopt;
  }
  return stderr_;
}

void BackgroundProcess::Signal(int signal_number) { kill(pid_, signal_number); }

int BackgroundProcess::Wait() {
  if (exit_code_.has_value()) return *exit_code_;
  while (ReadSome(-1)) {
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return *exit_code_;
}

}  // namespace deltaserve::testing
