// A real sproutd, real invocations of every outcome (OK, a handler error, a
// timeout, a throttle), and its /metrics read over its HTTP listener:
// promtool accepts the text, the counts are right, counters add up over
// redeploys and go with Delete; every invocation's log tail carries
// Lambda's START, END and REPORT lines, with Init Duration on the one that
// paid for the init.
#include <gtest/gtest.h>

#include <future>
#include <string>

#include "supervisor/lambda_log_lines.h"
#include "tests/metrics/metrics_daemon.h"
#include "tests/metrics/run_command.h"
#include "tests/support/wait_until.h"

namespace sprout::testing {
namespace {

constexpr const char* kOk =
    "def handler(event, context):\n"
    "    print('hello from ok')\n"
    "    return {'ok': True}\n";
constexpr const char* kError =
    "def handler(event, context):\n"
    "    raise ValueError('nope')\n";
constexpr const char* kSlow =
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(30)\n";
constexpr const char* kBusy =
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(3)\n"
    "    return 1\n";

using Metrics = MetricsDaemonTest;

std::string report_line(const std::string& logs) {
  const size_t at = logs.find("REPORT RequestId: ");
  return at == std::string::npos ? std::string() : logs.substr(at, logs.find('\n', at) - at);
}

TEST_F(Metrics, PromtoolAcceptsRealMetricsAfterEveryKindOfInvocation) {
  // A queued invocation gives up after 300 ms: the throttle below.
  start_daemon({"--queue-timeout-ms", "300"});
  auto client = connect();
  deploy_python(*client, "ok_fn", kOk);
  deploy_python(*client, "err_fn", kError);
  deploy_python(*client, "slow_fn", kSlow, /*timeout_ms=*/500);
  deploy_python(*client, "busy_fn", kBusy, /*timeout_ms=*/20000, /*max_concurrency=*/1);

  auto first = client->invoke("ok_fn", "{}");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status(), api::OK) << first->detail();
  auto second = client->invoke("ok_fn", "{}");
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status(), api::OK);
  auto failed = client->invoke("err_fn", "{}");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status(), api::FUNCTION_ERROR);
  auto timed_out = client->invoke("slow_fn", "{}");
  ASSERT_TRUE(timed_out);
  EXPECT_EQ(timed_out->status(), api::TIMEOUT);

  // busy_fn runs one at a time; a second call while the first sleeps waits
  // 300 ms in the queue and is throttled.
  auto running = client->invoke_async("busy_fn", "{}");
  ASSERT_TRUE(wait_until(
      [&] {
        auto health = client->health();
        return health && health->live_sandboxes() >= 1;
      },
      std::chrono::seconds(60)));
  auto throttled = client->invoke("busy_fn", "{}");
  ASSERT_FALSE(throttled) << "a second busy_fn call runs only after the first's 3 s";
  EXPECT_EQ(throttled.error().status, api::THROTTLED) << throttled.error().message;
  auto busy_done = running.get();
  ASSERT_TRUE(busy_done);
  EXPECT_EQ(busy_done->status(), api::OK) << busy_done->detail();

  const std::string text = http_get("/metrics");
  ASSERT_FALSE(text.empty());
  const auto checked = run_command({"promtool", "check", "metrics"}, text);
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n---\n" << text;
  EXPECT_EQ(checked.output, "") << "no lint finding";

  EXPECT_EQ(sample(text, R"(sprout_invocations_total{function="ok_fn",status="OK"})"), "2");
  EXPECT_EQ(sample(text, R"(sprout_invocations_total{function="err_fn",status="FUNCTION_ERROR"})"),
            "1");
  EXPECT_EQ(sample(text, R"(sprout_invocations_total{function="slow_fn",status="TIMEOUT"})"), "1");
  EXPECT_EQ(sample(text, R"(sprout_invocations_total{function="busy_fn",status="OK"})"), "1");
  EXPECT_EQ(sample(text, R"(sprout_throttles_total{function="busy_fn"})"), "1");
  EXPECT_EQ(sample(text, R"(sprout_throttles_total{function="ok_fn"})"), "0");
  EXPECT_EQ(sample(text, R"(sprout_admission_refusals_total{reason="queue_timeout"})"), "1");
  EXPECT_EQ(sample(text, R"(sprout_admission_refusals_total{reason="queue_full"})"), "0");
  EXPECT_EQ(sample(text,
                   R"(sprout_invocation_duration_seconds_count{function="ok_fn",phase="total"})"),
            "2");
  EXPECT_EQ(sample(text,
                   R"(sprout_invocation_duration_seconds_count{function="ok_fn",phase="run"})"),
            "2");
  EXPECT_EQ(sample(text,
                   R"(sprout_invocation_duration_seconds_bucket{function="slow_fn",phase="run",le="0.25"})"),
            "0")
      << "the timed-out run lasted its 500 ms";
  EXPECT_EQ(sample(text, R"(sprout_init_duration_seconds_count{function="ok_fn"})"), "1")
      << "one init, at deploy";
  const auto cold = sample(text, R"(sprout_cold_starts_total{function="ok_fn"})");
  const auto warm = sample(text, R"(sprout_prefork_hits_total{function="ok_fn"})");
  ASSERT_TRUE(cold && warm);
  EXPECT_EQ(std::stoi(*cold) + std::stoi(*warm), 2) << "each invocation forked or pre-forked";
  const auto billed = sample(text, R"(sprout_billed_seconds_total{function="ok_fn"})");
  ASSERT_TRUE(billed);
  EXPECT_DOUBLE_EQ(std::stod(*billed),
                   static_cast<double>(first->metrics().billed_ms() + second->metrics().billed_ms()) /
                       1000);
  EXPECT_EQ(sample(text, "sprout_functions"), "4");
  EXPECT_EQ(sample(text, "sprout_live_sandboxes"), "0");
  EXPECT_EQ(sample(text, "sprout_queued_invocations"), "0");
  EXPECT_EQ(sample(text, "sprout_serving"), "1");
  const auto zygotes = sample(text, "sprout_live_zygotes");
  ASSERT_TRUE(zygotes);
  EXPECT_GE(std::stoi(*zygotes), 1);
  const auto threads = sample(text, "process_threads");
  ASSERT_TRUE(threads);
  EXPECT_GT(std::stoi(*threads), 1);
  const auto fds = sample(text, "process_open_fds");
  ASSERT_TRUE(fds);
  EXPECT_GT(std::stoi(*fds), 3);

  // The log lines of each outcome.
  const std::string& id = first->request_id();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(first->logs().rfind("START RequestId: " + id + " Version: 1\nhello from ok\nEND RequestId: " +
                                    id + "\nREPORT RequestId: " + id + "\tDuration: ",
                                0),
            0u)
      << first->logs();
  const std::string report = report_line(first->logs());
  EXPECT_NE(report.find("\tBilled Duration: " + std::to_string(first->metrics().billed_ms()) +
                        " ms\tMemory Size: 128 MB\tMax Memory Used: "),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("\tInit Duration: "), std::string::npos)
      << "the first invocation on the deploy's snapshot paid for its init: " << report;
  EXPECT_EQ(first->metrics().init_us(), 0u) << "the deploy paid for the init, not the invocation";
  EXPECT_EQ(report_line(second->logs()).find("Init Duration"), std::string::npos)
      << "only the first: " << second->logs();
  EXPECT_NE(failed->logs().find("END RequestId: " + failed->request_id() + "\nREPORT"),
            std::string::npos)
      << failed->logs();
  EXPECT_EQ(timed_out->logs().rfind("START RequestId: " + timed_out->request_id(), 0), 0u)
      << timed_out->logs();
  EXPECT_NE(report_line(timed_out->logs()).find("\tBilled Duration: "), std::string::npos)
      << timed_out->logs();
}

TEST_F(Metrics, CountersAddUpOverRedeploysAndGoWithDelete) {
  start_daemon();
  auto client = connect();
  deploy_python(*client, "f", kOk);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(client->invoke("f", "{}")->status(), api::OK);
  deploy_python(*client, "f", kOk);  // version 2
  auto on_v2 = client->invoke("f", "{}");
  ASSERT_TRUE(on_v2);
  ASSERT_EQ(on_v2->status(), api::OK);
  EXPECT_EQ(on_v2->logs().rfind("START RequestId: " + on_v2->request_id() + " Version: 2\n", 0),
            0u)
      << on_v2->logs();
  EXPECT_NE(report_line(on_v2->logs()).find("\tInit Duration: "), std::string::npos)
      << "version 2's snapshot is fresh: " << on_v2->logs();

  std::string text = http_get("/metrics");
  EXPECT_EQ(sample(text, R"(sprout_invocations_total{function="f",status="OK"})"), "3")
      << "cumulative over versions 1 and 2";
  EXPECT_EQ(sample(text, R"(sprout_init_duration_seconds_count{function="f"})"), "2");
  EXPECT_EQ(sample(text, R"(sprout_invocation_duration_seconds_count{function="f",phase="total"})"),
            "3");

  ASSERT_TRUE(client->remove("f"));
  text = http_get("/metrics");
  EXPECT_EQ(text.find("function=\"f\""), std::string::npos) << "a deleted function's series go";
  EXPECT_EQ(sample(text, "sprout_functions"), "0");

  // Deployed again: a new function, counting from zero (Prometheus sees a
  // counter reset).
  deploy_python(*client, "f", kOk);
  text = http_get("/metrics");
  EXPECT_EQ(sample(text, R"(sprout_invocations_total{function="f",status="OK"})"), std::nullopt);
  EXPECT_EQ(sample(text, R"(sprout_cold_starts_total{function="f"})"), "0");
}

TEST_F(Metrics, TheFirstInvocationAfterARestartReportsTheReload) {
  start_daemon();
  {
    auto client = connect();
    deploy_python(*client, "f", kOk);
  }
  stop_daemon();
  start_daemon();  // same state directory: f is restored, not loaded
  auto client = connect();
  auto reloaded = client->invoke("f", "{}");
  ASSERT_TRUE(reloaded);
  ASSERT_EQ(reloaded->status(), api::OK) << reloaded->detail();
  EXPECT_NE(report_line(reloaded->logs()).find("\tInit Duration: "), std::string::npos)
      << "the invocation that loaded the snapshot waited for its init: " << reloaded->logs();
  EXPECT_GT(reloaded->metrics().init_us(), 0u) << "the load was on its critical path";
  EXPECT_NE(report_line(reloaded->logs())
                .find("\tInit Duration: " + supervisor::milliseconds_text(reloaded->metrics().init_us()) +
                      " ms\t"),
            std::string::npos)
      << "REPORT tells the wait it measured: " << reloaded->logs();
  auto after = client->invoke("f", "{}");
  ASSERT_TRUE(after);
  EXPECT_EQ(report_line(after->logs()).find("Init Duration"), std::string::npos) << after->logs();
  EXPECT_EQ(after->metrics().init_us(), 0u) << "the snapshot was resident";
  const std::string text = http_get("/metrics");
  EXPECT_EQ(sample(text, R"(sprout_init_duration_seconds_count{function="f"})"), "1");
  EXPECT_EQ(sample(text, R"(sprout_invocations_total{function="f",status="OK"})"), "2")
      << "counters live as long as sproutd";
}

}  // namespace
}  // namespace sprout::testing
