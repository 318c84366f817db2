// Bad input, disconnects, restarts, concurrency, faults and leftovers,
// against the real daemon over the real socket.
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/e2e/daemon_fixture.h"

namespace sprout::testing {
namespace {

// 'R', 'S', 'Z', ...; '?' when the process is gone. A dead process whose
// new parent (init) has not reaped it yet is a zombie, and still "exists".
char process_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close_paren = text.rfind(')');
  return close_paren == std::string::npos || close_paren + 2 >= text.size() ? '?'
                                                                            : text[close_paren + 2];
}

class RobustnessTest : public DaemonTest {
 protected:
  int raw_connect() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    strncpy(address.sun_path, socket_.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    return fd;
  }
  static void send_frame(int fd, const std::string& body) {
    uint32_t length = htonl(static_cast<uint32_t>(body.size()));
    std::string frame(reinterpret_cast<const char*>(&length), 4);
    frame += body;
    ASSERT_EQ(write(fd, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  }
  static std::optional<api::Response> read_response(int fd) {
    uint32_t length;
    if (recv(fd, &length, 4, MSG_WAITALL) != 4) return std::nullopt;
    std::string body(ntohl(length), '\0');
    if (recv(fd, body.data(), body.size(), MSG_WAITALL) != static_cast<ssize_t>(body.size()))
      return std::nullopt;
    api::Response response;
    if (!response.ParseFromString(body)) return std::nullopt;
    return response;
  }
};

TEST_F(RobustnessTest, MalformedAndUnknownFramesGetClearErrorsAndTheConnectionLives) {
  start_daemon();
  int fd = raw_connect();
  send_frame(fd, "\xff\xff\xff garbage that is no protobuf");
  auto malformed = read_response(fd);
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status(), api::INVALID_ARGUMENT);
  EXPECT_EQ(malformed->error(), "malformed request: not a sprout.api.Request message");

  api::Request empty;
  empty.set_id(77);
  send_frame(fd, empty.SerializeAsString());
  auto unknown = read_response(fd);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->id(), 77u);
  EXPECT_EQ(unknown->status(), api::INVALID_ARGUMENT);

  api::Request health;
  health.set_id(78);
  health.mutable_health();
  send_frame(fd, health.SerializeAsString());
  auto fine = read_response(fd);
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->id(), 78u);
  EXPECT_TRUE(fine->health().serving());
  close(fd);
}

TEST_F(RobustnessTest, OversizedFrameIsRefusedUnreadAndTheDaemonServesOthers) {
  start_daemon();
  int fd = raw_connect();
  uint32_t huge = htonl(1u << 30);  // announces 1 GiB, sends none of it
  ASSERT_EQ(write(fd, &huge, 4), 4);
  auto refused = read_response(fd);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status(), api::PAYLOAD_TOO_LARGE);
  EXPECT_EQ(refused->error(), "frame of 1073741824 bytes over the limit of 6356992");
  char byte;
  EXPECT_EQ(recv(fd, &byte, 1, 0), 0) << "then the connection is closed";
  close(fd);
  auto client = connect();
  EXPECT_TRUE(client->health().has_value());
}

TEST_F(RobustnessTest, ClientDisconnectingMidInvocationKillsItsSandbox) {
  start_daemon();
  deploy_python("sleeper", "import time\ndef handler(event, context):\n    time.sleep(30)\n",
                {"--timeout-ms", "60000", "--no-prefork"});
  {
    auto client = connect();
    auto pending = client->invoke_async("sleeper", "{}");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(client->health()->live_sandboxes(), 1u);
  }  // the client goes away mid-invocation
  auto observer = connect();
  bool released = false;
  for (int i = 0; i < 100 && !released; ++i) {
    released = observer->health()->live_sandboxes() == 0;
    if (!released) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(released) << "the sandbox of a vanished client was killed";
  auto stats = observer->stats("sleeper");
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->functions(0).by_status().at("INTERNAL"), 1u);
  EXPECT_TRUE(observer->health()->serving());
}

TEST_F(RobustnessTest, FunctionsSurviveARestart) {
  start_daemon();
  deploy_python("kept", "def handler(event, context):\n    return 'v1'\n");
  deploy_python("kept", "def handler(event, context):\n    return 'v2'\n", {"--env", "K=V"});
  ASSERT_EQ(stop_daemon(), 0);
  start_daemon();
  auto client = connect();
  auto info = client->get("kept");
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->function().version(), 2u);
  EXPECT_EQ(info->function().spec().env().at("K"), "V");
  auto result = client->invoke("kept", "{}");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result(), "\"v2\"");
  EXPECT_EQ(result->function_version(), 2u);
}

TEST_F(RobustnessTest, LeftoversOfACrashedDaemonAreCleanedUp) {
  start_daemon();
  deploy_python("survivor", "def handler(event, context):\n    return 'alive'\n");
  const pid_t crashed = daemon_;
  const auto children = daemon_children();
  EXPECT_GE(children.size(), 2u) << "a zygote and a snapshot";
  kill(daemon_, SIGKILL);
  waitpid(daemon_, nullptr, 0);
  daemon_ = -1;
  // A half-written deploy, as a crash mid-deploy leaves it.
  std::filesystem::create_directories(state_ + "/functions/survivor/v3.partial");
  // Zygotes and snapshots die with their supervisor (PR_SET_PDEATHSIG).
  for (pid_t child : children) {
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = kill(child, 0) != 0 || process_state(child) == 'Z';
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(gone) << "child " << child << " outlived its sproutd";
  }
  EXPECT_TRUE(std::filesystem::exists(socket_)) << "a crash leaves the socket";
  start_daemon();
  EXPECT_FALSE(std::filesystem::exists(state_ + "/functions/survivor/v3.partial"));
  bool stale_cgroup = false;
  for (const auto& root : {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (entry.path().filename() == "sproutd-" + std::to_string(crashed)) stale_cgroup = true;
    }
  }
  EXPECT_FALSE(stale_cgroup);
  auto client = connect();
  EXPECT_EQ(client->invoke("survivor", "{}")->result(), "\"alive\"");
}

TEST_F(RobustnessTest, DeadZygoteAndSnapshotAreRebuilt) {
  start_daemon();
  deploy_python("phoenix", "def handler(event, context):\n    return 'again'\n", {"--no-prefork"});
  auto client = connect();
  EXPECT_EQ(client->invoke("phoenix", "{}")->status(), api::OK);
  for (pid_t child : daemon_children()) kill(child, SIGKILL);  // zygote and snapshot
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto next = client->invoke("phoenix", "{}");
  ASSERT_TRUE(next.has_value()) << next.error().message;
  EXPECT_EQ(next->status(), api::OK) << next->detail();
  EXPECT_EQ(next->result(), "\"again\"");
}

TEST_F(RobustnessTest, ConcurrentDeployAndInvokeOfOneName) {
  start_daemon();
  deploy_python("moving", "def handler(event, context):\n    return 1\n");
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, calls{0};
  std::thread invoker([&] {
    auto client = connect();
    uint32_t last_version = 0;
    while (!done) {
      auto response = client->invoke("moving", "{}");
      if (!response || response->status() != api::OK || response->function_version() < last_version)
        ++failures;
      if (response) last_version = response->function_version();
      ++calls;
    }
  });
  for (int version = 2; version <= 5; ++version) {
    deploy_python("moving",
                  "def handler(event, context):\n    return " + std::to_string(version) + "\n");
  }
  done = true;
  invoker.join();
  EXPECT_EQ(failures, 0) << "out of " << calls << " invocations";
  EXPECT_GT(calls, 0);
  auto client = connect();
  EXPECT_EQ(client->invoke("moving", "{}")->result(), "5");
}

TEST_F(RobustnessTest, ThousandInvocationsAtConcurrencyFiftyLoseNothing) {
  start_daemon();
  deploy_python("counter", "def handler(event, context):\n    return event['n'] * 2\n",
                {"--max-concurrency", "50", "--prefork-max", "8"});
  constexpr int kConnections = 5, kPerConnection = 200, kInFlightPerConnection = 10;
  std::atomic<int> ok{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      auto client = connect();
      std::deque<std::pair<int, std::future<ClientResult<api::InvokeResponse>>>> window;
      for (int i = 0; i < kPerConnection; ++i) {
        const int n = c * kPerConnection + i;
        window.emplace_back(n,
                            client->invoke_async("counter", R"({"n": )" + std::to_string(n) + "}"));
        // 5 connections x 10 pipelined = 50 invocations in flight.
        while (window.size() >= kInFlightPerConnection ||
               (i == kPerConnection - 1 && !window.empty())) {
          auto [expected, future] = std::move(window.front());
          window.pop_front();
          auto response = future.get();
          if (response && response->status() == api::OK &&
              response->result() == std::to_string(expected * 2)) {
            ++ok;
          } else {
            ++wrong;
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok, kConnections * kPerConnection);
  EXPECT_EQ(wrong, 0);
  auto stats = connect()->stats("counter");
  EXPECT_EQ(stats->functions(0).invocations(), 1000u);
}

TEST_F(RobustnessTest, NothingIsLeftAfterShutdown) {
  start_daemon();
  deploy_python("tidy", "def handler(event, context):\n    return 1\n", {"--prefork-min", "2"});
  auto client = connect();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client->invoke("tidy", "{}")->status(), api::OK);
  client.reset();
  const pid_t daemon = daemon_;
  EXPECT_EQ(stop_daemon(), 0);
  EXPECT_TRUE(daemon_children().empty());
  for (const auto& root : {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      EXPECT_NE(entry.path().filename(), "sproutd-" + std::to_string(daemon)) << entry.path();
    }
  }
  std::ifstream mounts("/proc/mounts");
  std::string line;
  while (std::getline(mounts, line)) EXPECT_EQ(line.find("sprout"), std::string::npos) << line;
}

}  // namespace
}  // namespace sprout::testing

namespace sprout::testing {
namespace {

TEST_F(RobustnessTest, ConfigFileInTextFormatIsApplied) {
  const std::string config = write_temp_file("sproutd.conf",
                                             "# a DaemonConfig in protobuf text format\n"
                                             "max_frame_bytes: 4096\n"
                                             "queue_timeout_ms: 100\n");
  start_daemon({"--config", config});
  int fd = raw_connect();
  uint32_t announced = htonl(5000);
  ASSERT_EQ(write(fd, &announced, 4), 4);
  auto refused = read_response(fd);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error(), "frame of 5000 bytes over the limit of 4096");
  close(fd);
}

TEST_F(RobustnessTest, MalformedConfigFileIsAClearError) {
  const std::string config = write_temp_file("bad.conf", "no_such_field: 1\n");
  int status = 0;
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDERR_FILENO);
    execl(SPROUTD_PATH, "sproutd", "--config", config.c_str(), "--socket", socket_.c_str(),
          nullptr);
    _exit(127);
  }
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2) << "sproutd refuses to start on a config it cannot parse";
}

TEST_F(RobustnessTest, PeersNotAllowedBySoPeercredAreRefused) {
  start_daemon();
  // Open the socket's mode so that only SO_PEERCRED stands in the way.
  ASSERT_EQ(chmod(socket_.c_str(), 0666), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(chmod((dir_ + "/run").c_str(), 0755), 0);
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(report[0]);
    // sproutd answers the refusal and closes at once; our request may then
    // meet a closed socket, which is not what this test is about.
    (void)signal(SIGPIPE, SIG_IGN);
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(1);
    int fd = raw_connect();
    api::Request health;
    health.set_id(1);
    health.mutable_health();
    std::string body = health.SerializeAsString();
    uint32_t length = htonl(static_cast<uint32_t>(body.size()));
    [[maybe_unused]] auto sent = write(fd, &length, 4) + write(fd, body.data(), body.size());
    auto response = read_response(fd);
    std::string text =
        response ? api::Status_Name(response->status()) + ": " + response->error() : "no answer";
    [[maybe_unused]] auto n = write(report[1], text.data(), text.size());
    _exit(0);
  }
  close(report[1]);
  char buffer[256] = {};
  ssize_t got = read(report[0], buffer, sizeof buffer - 1);
  close(report[0]);
  int child_status = 0;
  waitpid(pid, &child_status, 0);
  ASSERT_GT(got, 0) << "the unprivileged client ended with status " << child_status;
  EXPECT_STREQ(buffer, "UNAVAILABLE: permission denied: uid 65534 may not use sproutd");
  // Root still gets in.
  EXPECT_TRUE(connect()->health().has_value());
}

}  // namespace
}  // namespace sprout::testing

namespace sprout::testing {
namespace {

TEST_F(RobustnessTest, PreforkPoolFollowsDemandSoABurstDoesNotPayTheFork) {
  start_daemon();
  deploy_python("bursty",
                "import time\ndef handler(event, context):\n    time.sleep(0.2)\n    return 1\n",
                {"--prefork-min", "0", "--prefork-max", "4", "--max-concurrency", "8"});
  auto client = connect();
  auto idle = [&] { return client->get("bursty")->function().idle_sandboxes(); };
  EXPECT_EQ(idle(), 0u) << "no demand yet, prefork_min 0";
  auto burst = [&] {
    std::vector<std::future<ClientResult<api::InvokeResponse>>> calls;
    for (int i = 0; i < 4; ++i) calls.push_back(client->invoke_async("bursty", "{}"));
    int preforked = 0;
    for (auto& call : calls) {
      auto response = call.get();
      EXPECT_TRUE(response && response->status() == api::OK);
      preforked += response && response->metrics().preforked();
    }
    return preforked;
  };
  burst();  // the first burst meets an empty pool
  bool filled = false;
  for (int i = 0; i < 100 && !filled; ++i) {
    filled = idle() == 4u;
    if (!filled) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(filled) << "the pool grew to the burst's concurrency (4), idle " << idle();
  EXPECT_EQ(burst(), 4) << "the next burst is served by pre-forked sandboxes";
}

}  // namespace
}  // namespace sprout::testing
