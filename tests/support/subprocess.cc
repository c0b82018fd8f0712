#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>

namespace deltaserve::testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  Check(pipe(in_pipe) == 0 && pipe(out_pipe) == 0 && pipe(err_pipe) == 0, "pipe");
  const pid_t pid = fork();
  Check(pid >= 0, "fork");
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  // Feed stdin and drain both outputs together, so a child that fills a pipe never blocks.
  CommandResult result;
  size_t written = 0;
  fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  if (input.empty()) close(in_pipe[1]);
  bool stdin_open = !input.empty(), out_open = true, err_open = true;
  std::array<char, 65536> buffer;
  while (out_open || err_open) {
    std::vector<pollfd> fds;
    if (stdin_open) fds.push_back({in_pipe[1], POLLOUT, 0});
    if (out_open) fds.push_back({out_pipe[0], POLLIN, 0});
    if (err_open) fds.push_back({err_pipe[0], POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    for (const pollfd& fd : fds) {
      if (fd.revents == 0) continue;
      if (fd.fd == in_pipe[1]) {
        const ssize_t n = write(fd.fd, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n < 0 || written == input.size()) {
          close(in_pipe[1]);
          stdin_open = false;
        }
        continue;
      }
      const ssize_t n = read(fd.fd, buffer.data(), buffer.size());
      std::string& sink = fd.fd == out_pipe[0] ? result.out : result.err;
      if (n > 0) {
        sink.append(buffer.data(), static_cast<size_t>(n));
      } else {
        close(fd.fd);
        (fd.fd == out_pipe[0] ? out_open : err_open) = false;
      }
    }
  }
  if (stdin_open) close(in_pipe[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace deltaserve::testing
