#include "tests/support/sproutd_launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sprout::testing {

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
  pollfd readable{ready[0], POLLIN, 0};
  char line[256] = {};
  const bool ok = poll(&readable, 1, static_cast<int>(ready_timeout.count())) == 1 &&
                  read(ready[0], line, sizeof line - 1) > 0 &&
                  std::string(line).rfind("sproutd: ready on " + socket, 0) == 0;
  close(ready[0]);
  if (!ok) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    launched.error = "sproutd did not get ready: '" + std::string(line) + "'; see " + log_path;
    return launched;
  }
  launched.pid = pid;
  return launched;
}

}  // namespace sprout::testing
