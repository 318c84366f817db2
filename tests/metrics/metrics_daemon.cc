#include "tests/metrics/metrics_daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "tests/metrics/run_command.h"

namespace sprout::testing {
namespace {

constexpr std::string_view kHttpLine = "sproutd: http listening on ";
constexpr std::string_view kReadyLine = "sproutd: ready on ";

}  // namespace

void MetricsDaemonTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "sproutd's sandboxes need root";
  char pattern[] = "/tmp/sprout-test-metrics-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  dir_ = pattern;
  socket_ = dir_ + "/run/sprout.sock";
  state_ = dir_ + "/state";
  log_ = dir_ + "/sproutd.log";
}

void MetricsDaemonTest::TearDown() {
  if (daemon_ > 0) stop_daemon();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

void MetricsDaemonTest::start_daemon(const std::vector<std::string>& flags) {
  std::vector<std::string> args{SPROUTD_PATH,    "--socket",      socket_,    "--state-dir",
                                state_,          "--http-listen", "127.0.0.1:0"};
  args.insert(args.end(), flags.begin(), flags.end());
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    const int log = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    dup2(log, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  if (pid < 0) {
    close(out[0]);
    throw std::runtime_error("fork failed");
  }
  daemon_ = pid;
  // Its stdout, line by line, until the ready line: the HTTP line comes
  // first. Generous: a loaded machine starts slowly.
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.find(kReadyLine) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd readable{out[0], POLLIN, 0};
    char buffer[512];
    ssize_t n = 0;
    if (left.count() <= 0 || poll(&readable, 1, static_cast<int>(left.count())) != 1 ||
        (n = read(out[0], buffer, sizeof buffer)) <= 0)
      break;
    seen.append(buffer, static_cast<size_t>(n));
  }
  close(out[0]);
  const size_t http = seen.find(kHttpLine);
  if (seen.find(kReadyLine) == std::string::npos || http == std::string::npos) {
    stop_daemon();
    throw std::runtime_error("sproutd did not get ready with its HTTP listener; stdout: '" + seen +
                             "'; see " + log_);
  }
  const std::string endpoint = seen.substr(http + kHttpLine.size(),
                                           seen.find('\n', http) - http - kHttpLine.size());
  http_port_ = static_cast<uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
}

void MetricsDaemonTest::stop_daemon() {
  if (daemon_ <= 0) return;
  kill(daemon_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 400 && waitpid(daemon_, &status, WNOHANG) == 0; ++i) usleep(50 * 1000);
  if (waitpid(daemon_, &status, WNOHANG) == 0) {
    ADD_FAILURE() << "sproutd did not stop within 20 s of SIGTERM";
    kill(daemon_, SIGKILL);
    waitpid(daemon_, &status, 0);
  }
  daemon_ = -1;
}

std::unique_ptr<Client> MetricsDaemonTest::connect() {
  auto client = Client::connect(socket_);
  if (!client) throw std::runtime_error("connect: " + client.error().message);
  return std::move(*client);
}

void MetricsDaemonTest::deploy_python(Client& client, const std::string& name,
                                      const std::string& source, uint32_t timeout_ms,
                                      uint32_t max_concurrency) {
  api::FunctionSpec spec;
  spec.set_name(name);
  spec.set_runtime(api::PYTHON3);
  spec.set_handler("handler.handler");
  spec.set_code(source);
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name("handler.py");
  spec.set_timeout_ms(timeout_ms);
  spec.set_max_concurrency(max_concurrency);
  auto deployed = client.deploy(spec);
  if (!deployed) throw std::runtime_error("deploy " + name + ": " + deployed.error().message);
}

std::string MetricsDaemonTest::http_get(const std::string& path) {
  const auto got = run_command({"curl", "--silent", "--show-error", "--fail", "--max-time", "60",
                                "http://127.0.0.1:" + std::to_string(http_port_) + path});
  EXPECT_EQ(got.exit_code, 0) << "GET " << path << ": " << got.output;
  return got.exit_code == 0 ? got.output : std::string();
}

std::optional<std::string> MetricsDaemonTest::sample(const std::string& text,
                                                     const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return line.substr(series.size() + 1);
  }
  return std::nullopt;
}

}  // namespace sprout::testing
