// Hostile clients against sproutd's server: descriptor exhaustion, the
// connection limit, stalled frames, announced-but-unsent frames, and many
// waiting calls. Each test provokes the attack for real and then checks
// that sproutd still serves, with deadlines that only stop a hang.
#include <arpa/inet.h>
#include <sys/resource.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "protocol/limits.h"
#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/process_scan.h"
#include "tests/e2e/raw_client.h"

namespace sprout::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ServerLimitsTest : public DaemonTest {
 protected:
  size_t daemon_descriptors() const {
    size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(daemon_) + "/fd"))
      ++count;
    return count;
  }
  // A field of /proc/PID/status ("Threads", "VmRSS": kB), 0 if unreadable.
  long daemon_status(const std::string& field) const {
    const std::string text = read_text("/proc/" + std::to_string(daemon_) + "/status");
    const auto at = text.find("\n" + field + ":");
    return at == std::string::npos ? 0 : std::stol(text.substr(at + field.size() + 2));
  }
  std::optional<api::HealthResponse> health() {
    auto client = Client::connect(socket_);
    if (!client) return std::nullopt;
    auto answer = (*client)->health();
    if (!answer) return std::nullopt;
    return *answer;
  }
  bool log_contains(const std::string& text) const {
    return read_text(daemon_log_).find(text) != std::string::npos;
  }
  static api::Request health_request(uint64_t id) {
    api::Request request;
    request.set_id(id);
    request.mutable_health();
    return request;
  }
};

// Provokes EMFILE in sproutd's accept: its descriptor limit is lowered to
// what it holds plus a few, then more clients connect than that allows.
// Before the fix the accept loop ended for good; now, once they leave,
// sproutd serves again under the same limit.
TEST_F(ServerLimitsTest, AcceptSurvivesDescriptorExhaustion) {
  start_daemon();
  ASSERT_TRUE(health());
  const rlim_t limit = daemon_descriptors() + 6;
  rlimit original{};
  ASSERT_EQ(prlimit(daemon_, RLIMIT_NOFILE, nullptr, &original), 0);
  const rlimit lowered{limit, original.rlim_max};
  ASSERT_EQ(prlimit(daemon_, RLIMIT_NOFILE, &lowered, nullptr), 0);

  std::vector<std::unique_ptr<RawConnection>> crowd;
  for (int i = 0; i < 40; ++i) {
    crowd.push_back(std::make_unique<RawConnection>(socket_));
    ASSERT_TRUE(crowd.back()->connected()) << "the backlog takes them all";
  }
  EXPECT_TRUE(wait_until([&] { return log_contains("accept failed: Too many open files"); },
                         seconds(30)))
      << "the test must really exhaust sproutd's descriptors";
  crowd.clear();

  // Under the same lowered limit, a new client is served once the crowd
  // is gone (the closed connections in the backlog are accepted first).
  EXPECT_TRUE(wait_until([&] { return health().has_value(); }, seconds(30)));
  EXPECT_TRUE(log_contains("accepting connections again"));
  ASSERT_EQ(prlimit(daemon_, RLIMIT_NOFILE, &original, nullptr), 0);
}

// Provokes the connection limit: the client beyond it is told why and
// closed; when a connection ends, a new one is served.
TEST_F(ServerLimitsTest, OneConnectionOverTheLimitIsRefusedClearly) {
  start_daemon({"--max-connections", "3"});
  std::vector<std::unique_ptr<RawConnection>> held;
  for (uint64_t i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawConnection>(socket_));
    ASSERT_TRUE(held.back()->send_request(health_request(i + 1)));
    auto answer = held.back()->read_response();
    ASSERT_TRUE(answer) << "connection " << i << " is served";
    EXPECT_EQ(answer->status(), api::OK);
    EXPECT_EQ(answer->health().connections(), i + 1);
  }
  RawConnection extra(socket_);
  ASSERT_TRUE(extra.connected());
  auto refusal = extra.read_response();
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status(), api::UNAVAILABLE);
  EXPECT_NE(refusal->error().find("at most 3 connections"), std::string::npos)
      << refusal->error();
  EXPECT_TRUE(extra.wait_closed());

  held.pop_back();
  EXPECT_TRUE(wait_until([&] { return health().has_value(); }, seconds(30)));
}

// Provokes the frame deadline: a client sends part of a header, another
// a header and part of the body, then both stall. Each is told and closed;
// a connection that sent nothing at all is not (idle is allowed).
TEST_F(ServerLimitsTest, StalledFrameIsClosedAtItsDeadlineIdleConnectionIsNot) {
  start_daemon({"--frame-timeout-ms", "300"});
  RawConnection idle(socket_), half_header(socket_), half_body(socket_);
  ASSERT_TRUE(half_header.send_bytes(std::string("\0\0", 2)));
  const std::string body = health_request(5).SerializeAsString();
  const uint32_t length = htonl(static_cast<uint32_t>(body.size()) + 100);
  ASSERT_TRUE(half_body.send_bytes(std::string(reinterpret_cast<const char*>(&length), 4) + body));

  for (RawConnection* stalled : {&half_header, &half_body}) {
    auto answer = stalled->read_response();
    ASSERT_TRUE(answer) << "a stalled frame is answered, not left hanging";
    EXPECT_EQ(answer->status(), api::INVALID_ARGUMENT);
    EXPECT_NE(answer->error().find("frame not completed within 300 ms"), std::string::npos)
        << answer->error();
    EXPECT_TRUE(stalled->wait_closed());
  }
  ASSERT_TRUE(idle.send_request(health_request(9)));
  auto answer = idle.read_response();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->id(), 9u);
  EXPECT_EQ(answer->status(), api::OK);
}

// Provokes the memory attack: 30 clients announce frames of the largest
// size and send one byte of their bodies. sproutd keeps only what arrived
// (before: ~6 MiB allocated and zeroed per connection, 181 MiB for 30).
TEST_F(ServerLimitsTest, AnnouncedFramesCostOnlyTheBytesThatArrive) {
  start_daemon();
  ASSERT_TRUE(health());
  const long rss_before_kb = daemon_status("VmRSS");
  const uint32_t announced = htonl(static_cast<uint32_t>(limits::kMaxApiFrameBytes));
  std::vector<std::unique_ptr<RawConnection>> announcers;
  for (int i = 0; i < 30; ++i) {
    announcers.push_back(std::make_unique<RawConnection>(socket_));
    ASSERT_TRUE(announcers.back()->send_bytes(
        std::string(reinterpret_cast<const char*>(&announced), 4) + "x"));
  }
  // All 30 are read (the health client is the 31st connection).
  ASSERT_TRUE(wait_until(
      [&] {
        auto h = health();
        return h && h->connections() >= 31;
      },
      seconds(30)));
  const long growth_kb = daemon_status("VmRSS") - rss_before_kb;
  EXPECT_LT(growth_kb, 32 * 1024) << "30 announced frames of "
                                  << limits::kMaxApiFrameBytes << " bytes cost " << growth_kb
                                  << " kB";
}

// Provokes 100 GetResult(wait) calls and 100 queued invocations, each on a
// connection of its own, while one invocation runs. None holds a thread:
// sproutd's thread count stays put and Health answers at once. Then every
// client leaves, and nothing of their calls stays behind.
TEST_F(ServerLimitsTest, WaitingCallsHoldNoThreadAndLeavingReleasesThem) {
  start_daemon({"--queue-timeout-ms", "120000", "--drain-timeout-ms", "1000"});
  deploy_python("slow", "import time\ndef handler(event, context):\n    time.sleep(120)\n",
                {"--timeout-ms", "150000", "--max-concurrency", "1", "--no-prefork"});
  auto client = connect();
  auto submitted = client->submit("slow", "{}");
  ASSERT_TRUE(submitted) << submitted.error().message;
  const std::string id = *submitted;
  ASSERT_TRUE(wait_until(
      [&] {
        auto h = health();
        return h && h->live_sandboxes() == 1;
      },
      seconds(60)));
  const long threads_before = daemon_status("Threads");

  std::vector<std::unique_ptr<RawConnection>> waiters;
  for (uint64_t i = 0; i < 100; ++i) {
    waiters.push_back(std::make_unique<RawConnection>(socket_));
    api::Request wait;
    wait.set_id(i);
    wait.mutable_get_result()->set_invocation_id(id);
    wait.mutable_get_result()->set_wait(true);
    ASSERT_TRUE(waiters.back()->send_request(wait));
  }
  for (uint64_t i = 0; i < 100; ++i) {
    waiters.push_back(std::make_unique<RawConnection>(socket_));
    api::Request invoke;
    invoke.set_id(i);
    invoke.mutable_invoke()->set_function("slow");
    invoke.mutable_invoke()->set_payload("{}");
    ASSERT_TRUE(waiters.back()->send_request(invoke));
  }
  std::optional<api::HealthResponse> seen;
  ASSERT_TRUE(wait_until(
      [&] {
        seen = health();
        return seen && seen->result_waits() == 100 && seen->queued_invocations() == 100;
      },
      seconds(60)))
      << "waits " << (seen ? seen->result_waits() : 0) << ", queued "
      << (seen ? seen->queued_invocations() : 0);
  const long threads_waiting = daemon_status("Threads");
  EXPECT_LT(threads_waiting - threads_before, 16)
      << "200 waiting calls took " << threads_waiting - threads_before << " threads";

  waiters.clear();
  EXPECT_TRUE(wait_until(
      [&] {
        seen = health();
        return seen && seen->result_waits() == 0 && seen->queued_invocations() == 0;
      },
      seconds(60)))
      << "waits " << (seen ? seen->result_waits() : 0) << ", queued "
      << (seen ? seen->queued_invocations() : 0);
  // The running invocation is unaffected: its result is still to come.
  auto still = client->get_result(id, false);
  ASSERT_TRUE(still);
  EXPECT_FALSE(still->done());
}

}  // namespace
}  // namespace sprout::testing
