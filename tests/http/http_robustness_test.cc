// What hostile or clumsy HTTP clients can do to sproutd's front door, each
// against a real sproutd: an oversized body or header, a slow client that
// stalls mid-header, a client that disconnects mid-invocation (its
// sandbox is killed), more clients than allowed, and a drain. After each,
// the daemon still serves. Label http;e2e.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "tests/e2e/process_scan.h"
#include "tests/http/http_daemon.h"
#include "tests/support/wait_until.h"

namespace sprout::testing {
namespace {

using namespace std::chrono_literals;

const char kEcho[] = R"PY(
def handler(event, context):
    return event
)PY";

// Renames itself (comm), so the test can find its sandbox, then blocks.
const char kBlocker[] = R"PY(
import time
def handler(event, context):
    with open("/proc/self/comm", "w") as comm:
        comm.write("httpblocker")
    time.sleep(float(event.get("sleep_s", 60)))
    return "done"
)PY";

class HttpRobustnessTest : public HttpDaemonTest {
 protected:
  bool still_serves() { return request("GET", "/healthz").status == 200; }
  static std::vector<ProcessInfo> blockers() {
    std::vector<ProcessInfo> found;
    for (auto& p : processes_named("httpblocker"))
      if (p.state != 'Z') found.push_back(p);
    return found;
  }
};

TEST_F(HttpRobustnessTest, OversizedBodyAndHeaderAreRefusedAndTheDaemonServesOn) {
  start_daemon("", {"--http-max-body-bytes", "1048576", "--http-max-header-bytes", "4096"});
  deploy_python("echo", kEcho);
  // Announced over the limit: 413 before the body is read, and the client,
  // still sending, gets the answer rather than a reset.
  auto announced = request("POST", "/2015-03-31/functions/echo/invocations",
                           "\"" + std::string(2 * 1024 * 1024, 'x') + "\"");
  EXPECT_EQ(announced.status, 413);
  EXPECT_EQ(announced.header("x-amzn-errortype"), "RequestTooLargeException");
  // Chunked, so the size shows only while reading.
  std::string chunked =
      "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 40; ++i) chunked += "10000\r\n" + std::string(65536, 'y') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(exchange(chunked).status, 413);
  auto header = request("GET", "/healthz", "", {"X-Big: " + std::string(8192, 'h')});
  EXPECT_EQ(header.status, 431);
  EXPECT_TRUE(still_serves());
  auto fine = request("POST", "/2015-03-31/functions/echo/invocations", R"({"ok": 1})");
  EXPECT_EQ(fine.status, 200);
  EXPECT_EQ(fine.body, R"({"ok": 1})");
  auto garbage = exchange("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_TRUE(still_serves());
}

// Each of these once crashed sproutd or split its stream (an attacker's
// review): a function URL answering 204 with a body (Beast threw on the
// Asio thread), HEAD answers with bodies, a transfer coding that is not
// chunked, and a dot segment that routed one signature to another function.
TEST_F(HttpRobustnessTest, HostileAnswersAndFramingNeitherCrashNorSplit) {
  start_daemon();
  deploy_python("nobody", R"PY(
def handler(event, context):
    return {"statusCode": 204, "body": "x"}
)PY",
                [](api::FunctionSpec& spec) { spec.mutable_url()->set_enabled(true); });
  auto bodiless = request("GET", "/fn/nobody/anything");
  EXPECT_EQ(bodiless.status, 204);
  EXPECT_EQ(bodiless.body, "");
  EXPECT_TRUE(still_serves());
  // HEAD: the length of what GET sends, and no bytes; the next answer on the
  // same connection is read where it starts.
  const int fd = connect_tcp();
  ASSERT_GE(fd, 0);
  const std::string two = "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(fd, two.data(), two.size(), MSG_NOSIGNAL), static_cast<ssize_t>(two.size()));
  std::string stream;
  char buffer[4096];
  wait_until([&] {
    ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) stream.append(buffer, static_cast<size_t>(n));
    return stream.find("ok\n") != std::string::npos;
  }, 30s);
  close(fd);
  const size_t second = stream.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << stream;
  EXPECT_EQ(stream.substr(second - 4, 4), "\r\n\r\n") << "HEAD sent a body: " << stream;
  // A transfer coding other than chunked: refused, never framed another way.
  auto coded = exchange(
      "POST /2015-03-31/functions/nobody/invocations HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(coded.status, 400);
  // A path that normalizes to another function's.
  EXPECT_EQ(request("GET", "/fn/other/../nobody/x").status, 400);
  EXPECT_EQ(request("GET", "/fn//nobody/x").status, 400);
  EXPECT_TRUE(still_serves());
}

TEST_F(HttpRobustnessTest, ASlowClientIsClosedAfterTheDeadline) {
  start_daemon("", {"--http-request-timeout-ms", "1000"});
  const int slow = connect_tcp();
  ASSERT_GE(slow, 0);
  const std::string half = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Partial: ";
  ASSERT_EQ(send(slow, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()));
  // Others are served while it stalls.
  EXPECT_TRUE(still_serves());
  // Closed by sproutd: a read sees the end (within a bound far above the
  // deadline, never asserting a speed).
  timeval bound{.tv_sec = 60, .tv_usec = 0};
  setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  char byte;
  EXPECT_EQ(recv(slow, &byte, 1, 0), 0) << "the stalled connection is closed";
  close(slow);
  EXPECT_TRUE(still_serves());
}

TEST_F(HttpRobustnessTest, AClientThatDisconnectsMidInvocationHasItsSandboxKilled) {
  start_daemon();
  deploy_python("blocker", kBlocker, [](api::FunctionSpec& s) { s.set_timeout_ms(120000); });
  ASSERT_TRUE(blockers().empty());
  const int fd = connect_tcp();
  ASSERT_GE(fd, 0);
  const std::string body = R"({"sleep_s": 100})";
  const std::string raw = "POST /2015-03-31/functions/blocker/invocations HTTP/1.1\r\nHost: x\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, raw.data(), raw.size(), MSG_NOSIGNAL), static_cast<ssize_t>(raw.size()));
  std::vector<ProcessInfo> running;
  ASSERT_TRUE(wait_until(
      [&] {
        running = blockers();
        return !running.empty();
      },
      60s))
      << "the handler never ran";
  close(fd);
  EXPECT_TRUE(wait_until([&] { return blockers().empty(); }, 30s))
      << "the sandbox of a call whose client left is killed";
  EXPECT_TRUE(still_serves());
}

TEST_F(HttpRobustnessTest, ClientsOverTheLimitAreToldSo) {
  start_daemon("", {"--http-max-connections", "2"});
  const int first = connect_tcp(), second = connect_tcp();
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  // Both are accepted once each has been served a request.
  for (int fd : {first, second}) {
    const std::string ask = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(send(fd, ask.data(), ask.size(), MSG_NOSIGNAL), static_cast<ssize_t>(ask.size()));
    EXPECT_EQ(read_reply(fd).status, 200);
  }
  auto third = request("GET", "/healthz");
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.header("x-amzn-errortype"), "ServiceException");
  close(first);
  close(second);
  EXPECT_TRUE(wait_until([&] { return still_serves(); }, 30s)) << "a freed place is taken again";
}

TEST_F(HttpRobustnessTest, DrainingAnswers503ThenStops) {
  start_daemon();
  deploy_python("blocker", kBlocker, [](api::FunctionSpec& s) { s.set_timeout_ms(120000); });
  const int keep = connect_tcp();  // open before the drain
  ASSERT_GE(keep, 0);
  const std::string ask = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(keep, ask.data(), ask.size(), MSG_NOSIGNAL), static_cast<ssize_t>(ask.size()));
  ASSERT_EQ(read_reply(keep).status, 200);
  // A running invocation keeps the drain going until the test ends it.
  std::thread call([this] {
    request("POST", "/2015-03-31/functions/blocker/invocations", R"({"sleep_s": 100})");
  });
  std::vector<ProcessInfo> running;
  ASSERT_TRUE(wait_until(
      [&] {
        running = blockers();
        return !running.empty();
      },
      60s));
  kill(daemon_, SIGTERM);
  bool draining = false;
  wait_until(
      [&] {
        if (send(keep, ask.data(), ask.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(ask.size()))
          return true;
        const int status = read_reply(keep).status;
        draining = status == 503;
        return status != 200;
      },
      30s);
  EXPECT_TRUE(draining) << "/healthz says 503 while draining";
  const int late = connect_tcp();
  EXPECT_LT(late, 0) << "no new connections while draining";
  if (late >= 0) close(late);
  for (const auto& blocker : running) kill(blocker.pid, SIGKILL);  // the drain can end
  call.join();
  close(keep);
  EXPECT_EQ(stop_daemon(), 0);
}

}  // namespace
}  // namespace sprout::testing
