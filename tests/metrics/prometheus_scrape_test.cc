// A real Prometheus (Debian's /usr/bin/prometheus) on loopback, with a
// temporary configuration and storage, scrapes sproutd's /metrics every
// second; its query API is asked for sprout_invocations_total until it holds
// the test function's series with the count of invocations made.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/mini_json.h"
#include "tests/metrics/metrics_daemon.h"
#include "tests/metrics/run_command.h"
#include "tests/support/wait_until.h"

namespace sprout::testing {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";

// A loopback port free now: Prometheus takes no port 0, so one is found by
// binding it first (another process could take it before Prometheus does;
// on a test machine's loopback that does not happen in practice).
uint16_t free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  close(fd);
  return port;
}

// Prometheus as a child process; stopped (SIGTERM, then SIGKILL) and its
// directory removed when the test ends, whatever happened.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& dir, uint16_t sproutd_port) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    port_ = free_loopback_port();
    std::ofstream(dir_ + "/prometheus.yml")
        << "global:\n"
           "  scrape_interval: 1s\n"
           "  evaluation_interval: 1s\n"
           "scrape_configs:\n"
           "  - job_name: sproutd\n"
           "    scrape_interval: 1s\n"
           "    scrape_timeout: 1s\n"
           "    static_configs:\n"
           "      - targets: ['127.0.0.1:"
        << sproutd_port << "']\n";
    std::vector<std::string> args{kPrometheus,
                                  "--config.file=" + dir_ + "/prometheus.yml",
                                  "--storage.tsdb.path=" + dir_ + "/data",
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                  "--log.level=warn"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log = dir_ + "/prometheus.log";
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 300 && waitpid(pid_, &status, WNOHANG) == 0; ++i) usleep(100 * 1000);
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
    std::error_code ignored;  // nothing to do about a directory that will not go
    std::filesystem::remove_all(dir_, ignored);
  }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  bool started() const { return pid_ > 0 && port_ != 0; }
  std::string log() const {
    std::ifstream in(dir_ + "/prometheus.log");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // An instant query's result vector (empty when Prometheus does not answer
  // yet, or answers with an error).
  std::vector<Json> query(const std::string& promql) const {
    const auto answer = run_command({"curl", "--silent", "--max-time", "10", "--get",
                                     "--data-urlencode", "query=" + promql,
                                     "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/query"});
    if (answer.exit_code != 0) return {};
    const std::optional<Json> parsed = Json::parse(answer.output);
    if (!parsed || (*parsed)["status"].as_string() != "success") return {};
    return (*parsed)["data"]["result"].items();
  }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

std::string label(const Json& series, const char* name) {
  return series["metric"][name].as_string();
}

// An instant vector sample's value: [time, "value"].
std::string value_of(const Json& series) { return series["value"][1].as_string(); }

using PrometheusScrape = MetricsDaemonTest;

TEST_F(PrometheusScrape, ARealPrometheusScrapesSproutdAndAnswersForTheFunction) {
  ASSERT_EQ(access(kPrometheus, X_OK), 0) << "Debian's prometheus package (scripts/install-deps.sh)";
  start_daemon();
  auto client = connect();
  deploy_python(*client, "scraped",
                "def handler(event, context):\n"
                "    return 'ok'\n");
  for (int i = 0; i < 3; ++i) {
    auto invoked = client->invoke("scraped", "{}");
    ASSERT_TRUE(invoked);
    ASSERT_EQ(invoked->status(), api::OK) << invoked->detail();
  }

  PrometheusProcess prometheus(dir_ + "/prometheus", http_port_);
  ASSERT_TRUE(prometheus.started());
  std::string last_seen;
  const bool seen = wait_until(
      [&] {
        for (const auto& series : prometheus.query("sprout_invocations_total")) {
          if (label(series, "function") == "scraped" && label(series, "status") == "OK" &&
              label(series, "job") == "sproutd") {
            last_seen = value_of(series);
            if (last_seen == "3") return true;
          }
        }
        return false;
      },
      std::chrono::seconds(180), std::chrono::milliseconds(500));
  EXPECT_TRUE(seen) << "last value seen: '" << last_seen << "'; prometheus log:\n"
                    << prometheus.log();
  // The scrape itself was healthy: Prometheus' own `up` for the target.
  bool up = false;
  for (const auto& series : prometheus.query("up{job=\"sproutd\"}"))
    up = up || value_of(series) == "1";
  EXPECT_TRUE(up) << prometheus.log();
}

}  // namespace
}  // namespace sprout::testing
