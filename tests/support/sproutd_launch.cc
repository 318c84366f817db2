#include "tests/support/sproutd_launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string_view>

#include "tests/support/wait_until.h"

namespace sprout::testing {
namespace {

constexpr std::string_view kHttpLine = "sproutd: http listening on ";
constexpr std::string_view kReadyLine = "sproutd: ready on ";

// What sproutd printed until its ready line (or its end, or the deadline).
std::string read_until_ready(int fd, std::chrono::milliseconds timeout) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (text.find(kReadyLine) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[512];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace

LaunchedDaemon launch_sproutd(const std::vector<std::string>& args, const std::string& log_path,
                              const std::string& socket,
                              std::chrono::milliseconds ready_timeout) {
  LaunchedDaemon launched;
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    launched.error = "pipe2 failed";
    return launched;
  }
  std::vector<std::string> argv_strings = args;
  const pid_t pid = fork();
  if (pid < 0) {
    close(ready[0]);
    close(ready[1]);
    launched.error = "fork failed";
    return launched;
  }
  if (pid == 0) {
    dup2(ready[1], STDOUT_FILENO);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    dup2(log, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(ready[1]);
  const std::string text = read_until_ready(ready[0], ready_timeout);
  close(ready[0]);
  const size_t ready_at = text.find(std::string(kReadyLine) + socket);
  if (ready_at == std::string::npos) {
    (void)stop_sproutd(pid, std::chrono::milliseconds(0));
    launched.error = "sproutd did not get ready: '" + text + "'; see " + log_path;
    return launched;
  }
  if (const size_t http_at = text.find(kHttpLine); http_at != std::string::npos && http_at < ready_at) {
    const size_t begin = http_at + kHttpLine.size();
    launched.http_endpoint = text.substr(begin, text.find('\n', begin) - begin);
    launched.http_port = std::stoi(launched.http_endpoint.substr(launched.http_endpoint.rfind(':') + 1));
  }
  launched.pid = pid;
  return launched;
}

StoppedDaemon stop_sproutd(pid_t pid, std::chrono::milliseconds grace) {
  StoppedDaemon stopped;
  int status = 0;
  kill(pid, grace.count() > 0 ? SIGTERM : SIGKILL);
  const bool ended = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, grace);
  if (!ended) {
    stopped.killed = grace.count() > 0;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  stopped.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return stopped;
}

}  // namespace sprout::testing
