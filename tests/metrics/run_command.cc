#include "tests/metrics/run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sprout::testing {

CommandOutput run_command(const std::vector<std::string>& argv, const std::string& input) {
  // A program that exits before reading all its input must not kill the
  // test with SIGPIPE: the write fails with EPIPE instead.
  static const bool sigpipe_ignored = signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)sigpipe_ignored;
  CommandOutput result;
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return result;
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    return result;
  }
  std::vector<std::string> args = argv;
  std::vector<char*> pointers;
  for (auto& arg : args) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], STDIN_FILENO);
    dup2(from_child[1], STDOUT_FILENO);
    dup2(from_child[1], STDERR_FILENO);
    execvp(pointers[0], pointers.data());
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  if (pid < 0) {
    close(to_child[1]);
    close(from_child[0]);
    return result;
  }
  // Feed stdin and drain stdout together: a large input and a chatty
  // program must not wait for each other.
  size_t written = 0;
  int input_fd = to_child[1];
  if (input.empty()) {
    close(input_fd);
    input_fd = -1;
  } else {
    fcntl(input_fd, F_SETFL, O_NONBLOCK);
  }
  for (;;) {
    pollfd fds[2] = {{from_child[0], POLLIN, 0}, {input_fd, POLLOUT, 0}};
    if (poll(fds, input_fd >= 0 ? 2 : 1, -1) < 0) break;
    if (input_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = write(input_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) {
        close(input_fd);
        input_fd = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[65536];
      const ssize_t n = read(from_child[0], buffer, sizeof buffer);
      if (n <= 0) break;
      result.output.append(buffer, static_cast<size_t>(n));
    }
  }
  if (input_fd >= 0) close(input_fd);
  close(from_child[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace sprout::testing
