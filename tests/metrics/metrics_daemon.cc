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
#include "tests/support/sproutd_launch.h"

namespace sprout::testing {

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
  // Generous: a loaded machine starts slowly.
  LaunchedDaemon launched = launch_sproutd(args, log_, socket_, std::chrono::seconds(60));
  if (launched.pid <= 0 || launched.http_port <= 0) {
    if (launched.pid > 0) (void)stop_sproutd(launched.pid, std::chrono::seconds(20));
    throw std::runtime_error("sproutd did not get ready with its HTTP listener: " +
                             launched.error);
  }
  daemon_ = launched.pid;
  http_port_ = static_cast<uint16_t>(launched.http_port);
}

void MetricsDaemonTest::stop_daemon() {
  if (daemon_ <= 0) return;
  if (stop_sproutd(daemon_, std::chrono::seconds(20)).killed)
    ADD_FAILURE() << "sproutd did not stop within 20 s of SIGTERM";
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
