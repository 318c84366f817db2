// Asynchronous invocations end to end, on the real sproutd: accepted only
// once on disk, so a kill -9 loses none of them; retried with the same
// request id; dead-lettered, redriven, or sent to an on-failure function
// with Lambda's destination record.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "tests/e2e/mini_json.h"
#include "tests/events_e2e/event_daemon.h"

namespace sprout::testing {
namespace {

// Sleeps as asked, fails when asked, and answers with the request id it saw.
constexpr const char* kHandler = R"(import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"id": context.aws_request_id, "n": event.get("n")}
)";

// Returns the event it was given: a destination's record, for the test.
constexpr const char* kEchoHandler = R"(def handler(event, context):
    return event
)";

class AsyncEventsTest : public EventDaemonTest {
 protected:
  void deploy(const std::string& name, const std::string& source, uint32_t max_concurrency,
              const api::AsyncConfig& async = {}) {
    api::FunctionSpec spec;
    spec.set_name(name);
    spec.set_runtime(api::PYTHON3);
    spec.set_handler("handler.handler");
    spec.set_code(source);
    spec.set_code_format(api::SINGLE_FILE);
    spec.set_code_file_name("handler.py");
    spec.set_timeout_ms(20000);
    spec.set_max_concurrency(max_concurrency);
    *spec.mutable_async() = async;
    auto deployed = connect()->deploy(spec);
    ASSERT_TRUE(deployed) << deployed.error().message;
  }

  static std::string payload(int n, double sleep_s = 0, bool fail = false) {
    return "{\"n\": " + std::to_string(n) + ", \"sleep\": " + std::to_string(sleep_s) +
           ", \"fail\": " + (fail ? "true" : "false") + "}";
  }
};

// Provokes: a kill -9 of sproutd with two attempts in flight and the rest
// queued. Expected: after the restart every event finishes OK, each with
// the request id it was accepted under; the history shows no other ids.
TEST_F(AsyncEventsTest, EventsQueuedAndInFlightSurviveKill9AndRunAfterRestart) {
  start_event_daemon();
  deploy("slow", kHandler, 2);
  constexpr int kEvents = 10;
  std::map<std::string, int> events;  // invocation id -> n
  for (int n = 0; n < kEvents; ++n) events[submit("slow", payload(n, 1.5))] = n;
  ASSERT_EQ(events.size(), static_cast<size_t>(kEvents)) << "every event has an id of its own";
  // Two running, the others queued: kill once the first has finished.
  ASSERT_TRUE(eventually([&] {
    for (const auto& entry : history("slow"))
      if (entry.status() == api::OK) return true;
    return false;
  })) << "no event ran within the deadline";
  kill_daemon();

  start_event_daemon();
  for (const auto& [id, n] : events) {
    api::GetResultResponse result = wait_result(id);
    ASSERT_TRUE(result.done()) << id;
    ASSERT_EQ(result.result().status(), api::OK) << id << ": " << result.result().detail();
    auto answer = Json::parse(result.result().result());
    ASSERT_TRUE(answer) << result.result().result();
    EXPECT_EQ((*answer)["id"].as_string(), id) << "every attempt sees the event's own id";
    EXPECT_EQ((*answer)["n"].as_int(), n);
    EXPECT_EQ(result.result().request_id(), id);
  }
  // At least once: an attempt cut short by the kill may have run twice,
  // under the same id; no invocation has an id of its own.
  std::map<std::string, int> runs;
  for (const auto& entry : history("slow")) {
    EXPECT_EQ(entry.source(), api::ASYNC);
    EXPECT_TRUE(events.count(entry.request_id())) << "unknown request id " << entry.request_id();
    if (entry.status() == api::OK) ++runs[entry.request_id()];
  }
  // The history is written in batches (docs/events.md): the runs that ended
  // within its last flush interval before the kill (at most the two that
  // were running) may be missing from it, never from the results above.
  EXPECT_GE(runs.size() + 2, events.size()) << "the runs after the restart are in the history";
}

// Provokes: a handler that always fails, with Lambda's default two retries.
// Expected: three attempts under one request id, then a dead letter; after
// a redeploy that fixes the handler, a redrive runs it OK under that id.
TEST_F(AsyncEventsTest, FailingEventIsRetriedTwiceThenDeadLetteredThenRedriven) {
  start_event_daemon();
  deploy("flaky", kHandler, 4);
  const std::string id = submit("flaky", payload(7, 0, true));
  ASSERT_TRUE(eventually([&] { return !dead_letters("flaky").empty(); }))
      << "no dead letter within the deadline";
  auto letters = dead_letters("flaky");
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].request_id(), id);
  EXPECT_EQ(letters[0].attempts(), 3u);
  EXPECT_EQ(letters[0].last_status(), api::FUNCTION_ERROR);
  EXPECT_EQ(letters[0].reason(), "RetriesExhausted");
  EXPECT_NE(letters[0].payload().find("\"n\": 7"), std::string::npos) << letters[0].payload();
  std::set<uint32_t> attempts;
  for (const auto& entry : history("flaky")) {
    EXPECT_EQ(entry.request_id(), id);
    EXPECT_EQ(entry.status(), api::FUNCTION_ERROR);
    EXPECT_EQ(entry.error_message(), "asked to fail");
    attempts.insert(entry.attempt());
  }
  EXPECT_EQ(attempts, (std::set<uint32_t>{1, 2, 3}));

  // Fixed: the same handler that ignores "fail".
  std::string fixed = kHandler;
  fixed.replace(fixed.find("event.get(\"fail\")"), 17, "False");
  deploy("flaky", fixed, 4);
  api::Request redrive;
  redrive.mutable_redrive()->set_function("flaky");
  api::Response redriven = call(redrive);
  ASSERT_EQ(redriven.status(), api::OK) << redriven.error();
  EXPECT_EQ(redriven.redrive().requeued(), 1u);
  api::GetResultResponse result = wait_result(id);
  ASSERT_TRUE(result.done());
  EXPECT_EQ(result.result().status(), api::OK) << result.result().detail();
  EXPECT_TRUE(dead_letters("flaky").empty());
}

// Provokes: a failing event of a function with no retries and an on-failure
// destination. Expected: the destination function runs once with Lambda's
// destination record naming the event.
TEST_F(AsyncEventsTest, ExhaustedEventGoesToTheOnFailureFunctionAsADestinationRecord) {
  start_event_daemon();
  deploy("sink", kEchoHandler, 4);
  api::AsyncConfig async;
  async.set_max_retry_attempts(0);
  async.set_on_failure("sink");
  deploy("failing", kHandler, 4, async);
  const std::string id = submit("failing", payload(3, 0, true));
  ASSERT_TRUE(eventually([&] { return !history("sink").empty(); }))
      << "the destination never ran";
  auto sink_runs = history("sink");
  ASSERT_EQ(sink_runs.size(), 1u);
  EXPECT_EQ(sink_runs[0].source(), api::ASYNC);
  ASSERT_EQ(sink_runs[0].status(), api::OK);
  auto record = Json::parse(sink_runs[0].result());
  ASSERT_TRUE(record) << sink_runs[0].result();
  EXPECT_EQ((*record)["version"].as_string(), "1.0");
  EXPECT_EQ((*record)["requestContext"]["requestId"].as_string(), id);
  EXPECT_EQ((*record)["requestContext"]["condition"].as_string(), "RetriesExhausted");
  EXPECT_EQ((*record)["requestContext"]["approximateInvokeCount"].as_int(), 1);
  EXPECT_EQ((*record)["requestPayload"]["n"].as_int(), 3);
  EXPECT_EQ((*record)["responseContext"]["functionError"].as_string(), "Unhandled");
  EXPECT_TRUE(dead_letters("failing").empty()) << "sent to the destination, not dead-lettered";
}

// Provokes: an event for a function that does not exist, and GetResult of
// an id never given. Expected: NOT_FOUND for both, naming what is missing.
TEST_F(AsyncEventsTest, UnknownFunctionsAndIdsAreRefusedClearly) {
  start_event_daemon();
  api::Request request;
  request.mutable_invoke_async()->set_function("nope");
  api::Response refused = call(request);
  EXPECT_EQ(refused.status(), api::NOT_FOUND) << refused.error();
  EXPECT_NE(refused.error().find("nope"), std::string::npos) << refused.error();
  api::Request get;
  get.mutable_get_result()->set_invocation_id("no-such-invocation");
  api::Response unknown = call(get);
  EXPECT_EQ(unknown.status(), api::NOT_FOUND) << unknown.error();
}

// Provokes: sproutd started on an event database whose header was
// overwritten (a disk fault, a bad restore). Expected: it refuses to start,
// exits 1 (not a crash) and its log names the database and what to do; it
// never serves with its queued events silently gone.
TEST_F(AsyncEventsTest, DamagedEventDatabaseStopsStartUpWithAClearError) {
  start_event_daemon();
  deploy("kept", kHandler, 2);
  submit("kept", payload(1));
  ASSERT_EQ(stop_daemon(), 0);
  const std::string db = state_ + "/events.db";
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  {
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file) << db;
    file.write(std::string(100, 'x').data(), 100);
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int log = open(daemon_log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    dup2(log, STDERR_FILENO);
    execl(SPROUTD_PATH, SPROUTD_PATH, "--socket", socket_.c_str(), "--state-dir", state_.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  const bool exited = eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; });
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(exited) << "sproutd served on a damaged event database";
  ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::ifstream log(daemon_log_);
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("events.db holds the queued events"), std::string::npos) << text;
}

}  // namespace
}  // namespace sprout::testing
