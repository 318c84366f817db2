// Every status code of the API, provoked for real through the socket.
#include <signal.h>

#include <filesystem>
#include <thread>

#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/process_scan.h"

namespace sprout::testing {
namespace {

class StatusTest : public DaemonTest {};

TEST_F(StatusTest, EveryFailureIsDistinguishable) {
  start_daemon();
  deploy_python("faults",
                "import ctypes, time\n"
                "def handler(event, context):\n"
                "    kind = event['kind']\n"
                "    if kind == 'raise': raise KeyError('missing')\n"
                "    if kind == 'sleep': time.sleep(10)\n"
                "    if kind == 'alloc': return len([bytearray(1 << 20) for _ in range(512)])\n"
                "    if kind == 'syscall': ctypes.CDLL(None).syscall(313, 0, b'', 0)\n"
                "    if kind == 'segv': ctypes.string_at(0)\n"
                "    return 'fine'\n",
                {"--memory-mb", "64", "--timeout-ms", "500"});
  // The memory hog gets a deadline no slow host reaches before its 512 MiB
  // run into the 64 MiB limit: the outcome provoked is the OOM kill.
  deploy_python("hog",
                "def handler(event, context):\n"
                "    return len([bytearray(1 << 20) for _ in range(512)])\n",
                {"--memory-mb", "64", "--timeout-ms", "120000"});
  auto client = connect();
  ASSERT_TRUE(client);
  auto call = [&](const std::string& kind) {
    auto response = client->invoke("faults", R"({"kind": ")" + kind + R"("})");
    EXPECT_TRUE(response.has_value()) << response.error().message;
    return response ? *response : api::InvokeResponse();
  };
  EXPECT_EQ(call("ok").status(), api::OK);
  auto raised = call("raise");
  EXPECT_EQ(raised.status(), api::FUNCTION_ERROR);
  EXPECT_EQ(raised.error_type(), "KeyError");
  auto slow = call("sleep");
  EXPECT_EQ(slow.status(), api::TIMEOUT);
  EXPECT_EQ(slow.detail(), "Task timed out after 500 ms");
  auto hog = client->invoke("hog", "{}");
  ASSERT_TRUE(hog.has_value()) << hog.error().message;
  EXPECT_EQ(hog->status(), api::OUT_OF_MEMORY) << hog->detail();
  auto syscall = call("syscall");
  EXPECT_EQ(syscall.status(), api::SECCOMP_VIOLATION);
  EXPECT_EQ(syscall.detail(), "blocked system call finit_module");
  auto segv = call("segv");
  EXPECT_EQ(segv.status(), api::CRASHED);
  EXPECT_EQ(segv.detail(), "killed by signal SEGV");

  auto missing = client->invoke("ghost", "{}");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().status, api::NOT_FOUND);

  api::FunctionSpec bad;
  bad.set_name("x");
  bad.set_runtime(api::PYTHON3);
  bad.set_handler("handler.handler");
  bad.set_code("def handler(e, c): pass\n");
  bad.set_code_format(api::SINGLE_FILE);
  bad.set_code_file_name("handler.py");
  bad.set_memory_mb(1);
  auto invalid = client->deploy(bad);
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().status, api::INVALID_ARGUMENT);
  EXPECT_EQ(invalid.error().message, "memory_mb must be 16..10240");

  bad.set_memory_mb(64);
  bad.set_code("raise SystemError('init broke')\n");
  auto init = client->deploy(bad);
  ASSERT_FALSE(init.has_value());
  EXPECT_EQ(init.error().status, api::INIT_ERROR);

  auto big = client->invoke("faults", std::string(7 * 1024 * 1024, 'x'));
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().status, api::PAYLOAD_TOO_LARGE);
  client->set_max_frame(16 * 1024 * 1024);  // past the client's own check: the server refuses it
  auto refused = client->invoke("faults", std::string(6 * 1024 * 1024 + 1, 'x'));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().status, api::PAYLOAD_TOO_LARGE);
}

TEST_F(StatusTest, BurstBeyondConcurrencyAndQueueIsThrottled) {
  start_daemon({"--max-queue", "2", "--queue-timeout-ms", "300"});
  deploy_python("slow",
                "import time\ndef handler(event, context):\n    time.sleep(1)\n    return 1\n",
                {"--max-concurrency", "1", "--no-prefork"});
  auto client = connect();
  std::vector<std::future<ClientResult<api::InvokeResponse>>> calls;
  for (int i = 0; i < 6; ++i) calls.push_back(client->invoke_async("slow", "{}"));
  int ok = 0, throttled = 0;
  for (auto& call : calls) {
    auto response = call.get();
    if (response && response->status() == api::OK) ++ok;
    if (!response && response.error().status == api::THROTTLED) ++throttled;
  }
  EXPECT_EQ(ok, 1) << "one slot";
  EXPECT_EQ(throttled, 5) << "three over the queue at once, two timed out in it";
}

TEST_F(StatusTest, DrainingDaemonFinishesWorkAndRefusesNewCalls) {
  start_daemon();
  // Long enough that the steps below, each waited for, end well inside it.
  deploy_python(
      "slow",
      "import time\ndef handler(event, context):\n    time.sleep(5)\n    return 'finished'\n",
      {"--no-prefork", "--timeout-ms", "60000"});
  auto client = connect();
  auto running = client->invoke_async("slow", "{}");
  // The call runs (it holds its sandbox) before the drain begins...
  ASSERT_TRUE(wait_until(
      [&] {
        auto health = client->health();
        return health && health->live_sandboxes() == 1;
      },
      std::chrono::seconds(30)))
      << "the call never started";
  kill(daemon_, SIGTERM);
  // ...and the daemon is draining (it refuses every new call, health too)
  // before the next call is made.
  ASSERT_TRUE(wait_until(
      [&] {
        auto health = client->health();
        return !health && health.error().status == api::UNAVAILABLE;
      },
      std::chrono::seconds(30)))
      << "sproutd never began to drain";
  EXPECT_FALSE(running.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
      << "the call ended before the drain was seen: the checks below prove nothing";
  auto refused = client->invoke("slow", "{}");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().status, api::UNAVAILABLE);
  auto finished = running.get();
  ASSERT_TRUE(finished.has_value()) << finished.error().message;
  EXPECT_EQ(finished->status(), api::OK);
  EXPECT_EQ(finished->result(), "\"finished\"");
  EXPECT_EQ(stop_daemon(), 0);
  EXPECT_FALSE(std::filesystem::exists(socket_)) << "the socket is removed";
}

}  // namespace
}  // namespace sprout::testing
