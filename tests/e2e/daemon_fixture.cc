#include "tests/e2e/daemon_fixture.h"

#include "tests/support/sproutd_launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sprout::testing {
namespace {

std::string read_all(int fd) {
  std::string out;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, n);
  return out;
}

}  // namespace

void DaemonTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "end-to-end tests run sproutd as root";
  char pattern[] = "/tmp/sprout-test-e2e-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  dir_ = pattern;
  socket_ = dir_ + "/run/sprout.sock";
  state_ = dir_ + "/state";
  daemon_log_ = dir_ + "/sproutd.log";
}

void DaemonTest::TearDown() {
  if (daemon_ > 0) stop_daemon();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

void DaemonTest::start_daemon(const std::vector<std::string>& flags) {
  std::vector<std::string> args{SPROUTD_PATH, "--socket", socket_, "--state-dir", state_};
  args.insert(args.end(), flags.begin(), flags.end());
  LaunchedDaemon launched = launch_sproutd(args, daemon_log_, socket_, std::chrono::seconds(60));
  // Throwing ends the test (gtest reports it) instead of running on
  // without a daemon.
  if (launched.pid < 0) throw std::runtime_error(launched.error);
  daemon_ = launched.pid;
}

int DaemonTest::stop_daemon() {
  if (daemon_ <= 0) return -1;
  kill(daemon_, SIGTERM);
  int status = 0;
  // A daemon that does not drain within its limit is a failure, and killed.
  for (int i = 0; i < 400 && waitpid(daemon_, &status, WNOHANG) == 0; ++i) usleep(50 * 1000);
  if (waitpid(daemon_, &status, WNOHANG) == 0) {
    ADD_FAILURE() << "sproutd did not stop within 20 s of SIGTERM";
    kill(daemon_, SIGKILL);
    waitpid(daemon_, &status, 0);
  }
  daemon_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::unique_ptr<Client> DaemonTest::connect() {
  auto client = Client::connect(socket_);
  if (!client) throw std::runtime_error("connect: " + client.error().message);
  return std::move(*client);
}

CommandResult DaemonTest::sprout(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 for the CLI's stdout failed");
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    throw std::runtime_error("pipe2 for the CLI's stderr failed");
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    setenv("SPROUT_SOCKET", socket_.c_str(), 1);
    std::vector<std::string> all{SPROUT_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : all) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  CommandResult result;
  // stderr is small; read stdout first, then stderr.
  result.out = read_all(out[0]);
  result.err = read_all(err[0]);
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string DaemonTest::write_temp_file(const std::string& name, const std::string& contents) {
  std::string path = dir_ + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << contents;
  return path;
}

void DaemonTest::deploy_python(const std::string& name, const std::string& source,
                               const std::vector<std::string>& extra) {
  const std::string file = write_temp_file("code-" + name + "/handler.py", source);
  std::vector<std::string> args{"deploy", name, "--runtime", "python3", "--code", file};
  args.insert(args.end(), extra.begin(), extra.end());
  auto result = sprout(args);
  if (result.exit_code != 0)
    throw std::runtime_error("deploy " + name + " failed: " + result.out + result.err);
}

std::vector<pid_t> DaemonTest::daemon_children() {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close_paren = text.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream fields(text.substr(close_paren + 2));
    char state;
    pid_t parent;
    fields >> state >> parent;
    if (parent == daemon_ && state != 'Z') children.push_back(std::stoi(name));
  }
  return children;
}

}  // namespace sprout::testing
