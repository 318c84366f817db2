#include "bench/event_bench/child_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace sprout::bench {
namespace {

// fork + exec of `args` with stdout to `stdout_fd` (or the log) and stderr
// to `log`; the child gets SIGTERM when the benchmark dies.
Result<pid_t> spawn(const std::vector<std::string>& args, const std::string& log, int stdout_fd) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return os_error("fork", args[0]);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd >= 0) {
      dup2(log_fd, STDERR_FILENO);
      dup2(stdout_fd >= 0 ? stdout_fd : log_fd, STDOUT_FILENO);
    }
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Removes the cgroup directories named sproutd-PID (and everything below)
// in every hierarchy, once their processes are gone (rmdir fails with EBUSY
// until then; waits up to 10 s). Returns how many hierarchies held one.
size_t remove_cgroups_of(pid_t pid) {
  namespace fs = std::filesystem;
  const std::string name = "sproutd-" + std::to_string(pid);
  std::vector<fs::path> roots;
  std::error_code error;
  if (fs::exists("/sys/fs/cgroup/" + name, error)) roots.emplace_back("/sys/fs/cgroup/" + name);
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", error))
    if (fs::exists(hierarchy.path() / name, error)) roots.push_back(hierarchy.path() / name);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const auto& root : roots) {
    for (;;) {
      // Deepest first: a cgroup with children cannot be removed.
      std::vector<fs::path> dirs{root};
      for (const auto& entry : fs::recursive_directory_iterator(root, error))
        if (entry.is_directory(error)) dirs.push_back(entry.path());
      std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
        return a.string().size() > b.string().size();
      });
      bool all = true;
      for (const auto& dir : dirs) all = (rmdir(dir.c_str()) == 0 || errno == ENOENT) && all;
      if (all || std::chrono::steady_clock::now() > give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return roots.size();
}

}  // namespace

Sproutd::~Sproutd() {
  const pid_t pid = process.pid();
  process.stop();
  if (pid > 0 && remove_cgroups_of(pid) > 0)
    std::fprintf(stderr, "sprout-event-bench: sproutd %d left its cgroups behind; removed them\n",
                 static_cast<int>(pid));
}

Result<TempDir> TempDir::create(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return os_error("mkdtemp", pattern);
  return TempDir(pattern);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;  // best effort: a leftover is reported by nobody
  std::filesystem::remove_all(path_, ignored);
}

void ChildProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Result<Sproutd> start_sproutd(const std::string& binary, const std::string& dir) {
  Sproutd daemon;
  daemon.socket = dir + "/sprout.sock";
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return os_error("pipe");
  // The ready pipe must survive exec in the child: dup2 onto stdout does.
  auto pid = spawn({binary, "--socket", daemon.socket, "--state-dir", dir + "/state"},
                   dir + "/sproutd.log", ready[1]);
  close(ready[1]);
  if (!pid) {
    close(ready[0]);
    return std::unexpected(pid.error());
  }
  daemon.process = ChildProcess(*pid);
  std::string said;
  char buffer[256];
  for (ssize_t n; said.find('\n') == std::string::npos &&
                  (n = read(ready[0], buffer, sizeof buffer)) > 0;)
    said.append(buffer, static_cast<size_t>(n));
  close(ready[0]);
  if (said.find("ready") == std::string::npos)
    return plain_error("start sproutd", "it did not say ready; see " + dir + "/sproutd.log:\n" +
                                            read_text(dir + "/sproutd.log"));
  return daemon;
}

Result<NatsServer> start_nats_server(const std::string& dir) {
  NatsServer server;
  const std::string log = dir + "/nats.log";
  auto pid = spawn({"nats-server", "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", dir + "/store",
                    "-l", log},
                   dir + "/nats.stderr", -1);
  if (!pid) return std::unexpected(pid.error());
  server.process = ChildProcess(*pid);
  const std::string listening = "Listening for client connections on 127.0.0.1:";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = read_text(log);
    if (auto at = text.find(listening); at != std::string::npos) {
      server.url = "nats://127.0.0.1:" + std::to_string(std::atoi(text.c_str() + at + listening.size()));
      return server;
    }
    if (waitpid(server.process.pid(), nullptr, WNOHANG) == server.process.pid())
      return plain_error("start nats-server", "it exited: " + read_text(dir + "/nats.stderr") + text);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return plain_error("start nats-server", "not listening after 20 s: " + read_text(log));
}

}  // namespace sprout::bench
