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
#include "tests/e2e/process_scan.h"
#include "tests/e2e/raw_client.h"

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

class RobustnessTest : public DaemonTest {};

TEST_F(RobustnessTest, MalformedAndUnknownFramesGetClearErrorsAndTheConnectionLives) {
  start_daemon();
  RawConnection raw(socket_);
  ASSERT_TRUE(raw.send_frame("\xff\xff\xff garbage that is no protobuf"));
  auto malformed = raw.read_response();
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status(), api::INVALID_ARGUMENT);
  EXPECT_EQ(malformed->error(), "malformed request: not a sprout.api.Request message");

  api::Request empty;
  empty.set_id(77);
  ASSERT_TRUE(raw.send_request(empty));
  auto unknown = raw.read_response();
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->id(), 77u);
  EXPECT_EQ(unknown->status(), api::INVALID_ARGUMENT);

  api::Request health;
  health.set_id(78);
  health.mutable_health();
  ASSERT_TRUE(raw.send_request(health));
  auto fine = raw.read_response();
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->id(), 78u);
  EXPECT_TRUE(fine->health().serving());
}

TEST_F(RobustnessTest, OversizedFrameIsRefusedUnreadAndTheDaemonServesOthers) {
  start_daemon();
  RawConnection raw(socket_);
  const uint32_t huge = htonl(1u << 30);  // announces 1 GiB, sends none of it
  ASSERT_TRUE(raw.send_bytes({reinterpret_cast<const char*>(&huge), 4}));
  auto refused = raw.read_response();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status(), api::PAYLOAD_TOO_LARGE);
  EXPECT_EQ(refused->error(), "frame of 1073741824 bytes over the limit of 6356992");
  EXPECT_TRUE(raw.wait_closed()) << "then the connection is closed";
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
    // However slow the fork, the call holds exactly one sandbox while it runs.
    auto live_sandboxes = [](Client& asked) {
      auto health = asked.health();
      return health ? static_cast<int>(health->live_sandboxes()) : -1;
    };
    EXPECT_TRUE(wait_until([&] { return live_sandboxes(*client) == 1; }, std::chrono::seconds(30)))
        << "the invocation never started; live sandboxes: " << live_sandboxes(*client);
  }  // the client goes away mid-invocation
  auto observer = connect();
  const bool released = wait_until(
      [&] {
        auto health = observer->health();
        return health && health->live_sandboxes() == 0;
      },
      std::chrono::seconds(30));
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
    const bool gone =
        wait_until([child] { return kill(child, 0) != 0 || process_state(child) == 'Z'; },
                   std::chrono::seconds(30));
    EXPECT_TRUE(gone) << "child " << child << " outlived its sproutd";
  }
  EXPECT_TRUE(std::filesystem::exists(socket_)) << "a crash leaves the socket";
  start_daemon();
  EXPECT_FALSE(std::filesystem::exists(state_ + "/functions/survivor/v3.partial"));
  EXPECT_EQ(cgroup_dirs_named("sproutd-" + std::to_string(crashed)), std::vector<std::string>{})
      << "the crashed daemon's cgroups are removed";
  auto client = connect();
  EXPECT_EQ(client->invoke("survivor", "{}")->result(), "\"alive\"");
}

TEST_F(RobustnessTest, DeadZygoteAndSnapshotAreRebuilt) {
  start_daemon();
  deploy_python("phoenix", "def handler(event, context):\n    return 'again'\n", {"--no-prefork"});
  auto client = connect();
  EXPECT_EQ(client->invoke("phoenix", "{}")->status(), api::OK);
  const auto children = daemon_children();  // zygote and snapshot
  EXPECT_GE(children.size(), 2u);
  for (pid_t child : children) kill(child, SIGKILL);
  // Dead (a zombie until sproutd reaps it) before the next call, however
  // long the kernel takes to end a pid namespace: the call must then
  // rebuild, not meet a half-dead snapshot.
  for (pid_t child : children) {
    EXPECT_TRUE(wait_until([child] { return kill(child, 0) != 0 || process_state(child) == 'Z'; },
                           std::chrono::seconds(30)))
        << "child " << child << " survived SIGKILL";
  }
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
  EXPECT_EQ(cgroup_dirs_named("sproutd-" + std::to_string(daemon)), std::vector<std::string>{});
  std::ifstream mounts("/proc/mounts");
  std::string line;
  while (std::getline(mounts, line)) EXPECT_EQ(line.find("sprout"), std::string::npos) << line;
}

}  // namespace
}  // namespace sprout::testing

namespace sprout::testing {
namespace {

// Provokes a fork slower than the function's own timeout (a before-fork
// hook of 500 ms, a timeout of 200 ms), as a loaded host makes one. The
// fork has its own deadline (fork_timeout_ms); the function's timeout
// starts with its request. Before, the fork waited at most the function's
// timeout: the call ended TIMEOUT and the snapshot was killed.
TEST_F(RobustnessTest, ForkSlowerThanTheFunctionsTimeoutCostsNeitherTheCallNorTheSnapshot) {
  start_daemon();
  deploy_python("hooked",
                "import os, time\n"
                "os.register_at_fork(before=lambda: time.sleep(0.5))\n"
                "def handler(event, context):\n    return 'ran'\n",
                {"--no-prefork", "--timeout-ms", "200"});
  auto client = connect();
  for (int i = 0; i < 2; ++i) {
    auto answer = client->invoke("hooked", "{}");
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status(), api::OK) << answer->detail();
    EXPECT_GE(answer->metrics().fork_us(), 500000u);
  }
  EXPECT_EQ(read_text(daemon_log_).find("killed"), std::string::npos) << read_text(daemon_log_);
}

TEST_F(RobustnessTest, ConfigFileInTextFormatIsApplied) {
  const std::string config = write_temp_file("sproutd.conf",
                                             "# a DaemonConfig in protobuf text format\n"
                                             "max_frame_bytes: 4096\n"
                                             "queue_timeout_ms: 100\n");
  start_daemon({"--config", config});
  RawConnection raw(socket_);
  const uint32_t announced = htonl(5000);
  ASSERT_TRUE(raw.send_bytes({reinterpret_cast<const char*>(&announced), 4}));
  auto refused = raw.read_response();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error(), "frame of 5000 bytes over the limit of 4096");
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
    RawConnection raw(socket_);
    api::Request health;
    health.set_id(1);
    health.mutable_health();
    (void)raw.send_request(health);  // may meet the closed socket: see above
    auto response = raw.read_response();
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
