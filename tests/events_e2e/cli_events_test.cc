// The CLI's event commands end to end (docs/cli.md, docs/events.md): the
// real `sprout` against the real sproutd, as a user types them; and the HTTP
// front door's Event invocation, on disk before its 202.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/e2e/mini_json.h"
#include "tests/events_e2e/event_daemon.h"
#include "tests/support/sproutd_launch.h"

namespace sprout::testing {
namespace {

using std::chrono::seconds;

// Exit codes of the CLI (docs/cli.md).
constexpr int kExitLocalError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFinished = 3;
constexpr int kExitFunctionError = 12;
constexpr int kExitNotFound = 19;
constexpr int kExitInvalidArgument = 20;

// Sleeps as asked, fails when asked (unless deployed with FIXED set), and
// answers with the request id it saw.
constexpr const char* kHandler = R"(import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail") and not os.environ.get("FIXED"):
        raise RuntimeError("asked to fail")
    return {"id": context.aws_request_id, "n": event.get("n")}
)";

// Returns the event it was given: a destination's record, for the test.
constexpr const char* kEchoHandler = R"(def handler(event, context):
    return event
)";

// The whitespace-separated words of `line`.
std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The rows of a table the CLI printed (its header line dropped), each as
// its words.
std::vector<std::vector<std::string>> table_rows(const std::string& out) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(out);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ') rows.push_back(words_of(line));
  }
  return rows;
}

// What curl got back from an HTTP Event invocation.
struct EventAnswer {
  int status = 0;
  std::string request_id;  // its x-amzn-RequestId header
};

// POSTs `body` to FUNCTION's Invoke API on 127.0.0.1:`port` as an Event
// invocation (loopback: unsigned), with curl.
EventAnswer post_event(int port, const std::string& function, const std::string& body) {
  const std::string command =
      "curl -s -o /dev/null -D - -X POST -H 'X-Amz-Invocation-Type: Event' --data '" + body +
      "' http://127.0.0.1:" + std::to_string(port) + "/2015-03-31/functions/" + function +
      "/invocations";
  std::string headers;
  FILE* curl = popen(command.c_str(), "r");
  if (curl == nullptr) throw std::runtime_error("popen curl failed");
  char buffer[256];
  while (fgets(buffer, sizeof buffer, curl) != nullptr) headers += buffer;
  if (pclose(curl) != 0) throw std::runtime_error("curl failed: " + command);
  EventAnswer answer;
  std::istringstream lines(headers);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) answer.status = std::stoi(words_of(line).at(1));
    constexpr std::string_view kRequestId = "x-amzn-requestid: ";
    std::string lower = line.substr(0, std::min(line.size(), kRequestId.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kRequestId) answer.request_id = line.substr(kRequestId.size());
  }
  return answer;
}

class CliEventsTest : public EventDaemonTest {
 protected:
  // sproutd as start_event_daemon() starts it, plus the HTTP front door on
  // a port the kernel picks; returns that port.
  int start_event_daemon_with_http() {
    const std::string config = write_temp_file("sproutd-http.conf", "async_retry_base_ms: 300\n");
    LaunchedDaemon launched =
        launch_sproutd({SPROUTD_PATH, "--socket", socket_, "--state-dir", state_, "--config",
                        config, "--http-listen", "127.0.0.1:0"},
                       daemon_log_, socket_, std::chrono::seconds(60));
    if (launched.pid < 0) throw std::runtime_error(launched.error);
    daemon_ = launched.pid;
    return launched.http_port;
  }

  // `sprout invoke NAME --async --payload PAYLOAD`: the invocation id.
  std::string invoke_async(const std::string& function, const std::string& payload) {
    const CommandResult queued = sprout({"invoke", function, "--async", "--payload", payload});
    EXPECT_EQ(queued.exit_code, 0) << queued.out << queued.err;
    EXPECT_EQ(queued.out.size(), 37u) << "an id and a newline: '" << queued.out << "'";
    EXPECT_EQ(queued.out.back(), '\n');
    return queued.out.substr(0, queued.out.find('\n'));
  }

  // `sprout history NAME`'s rows, newest first.
  std::vector<std::vector<std::string>> history_rows(const std::string& function) {
    const CommandResult listed = sprout({"history", function});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    return table_rows(listed.out);
  }
};

// Provokes: `sprout invoke --async`, then `sprout result ID --wait`,
// `sprout history` and `sprout history --json`. Expected: an id on a line
// of its own; the result the handler gave under that id; a history row with
// that id, source async, status OK, try 1; JSON with every documented field.
TEST_F(CliEventsTest, InvokeAsyncPrintsAnIdWhoseResultAndHistoryFollow) {
  start_event_daemon();
  deploy_python("hello", kHandler);
  const std::string id = invoke_async("hello", R"({"n": 5})");

  const CommandResult waited = sprout({"result", id, "--wait"});
  ASSERT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  auto answer = Json::parse(waited.out);
  ASSERT_TRUE(answer) << waited.out;
  EXPECT_EQ((*answer)["id"].as_string(), id) << "the handler's aws_request_id is the id printed";
  EXPECT_EQ((*answer)["n"].as_int(), 5);

  const CommandResult as_json = sprout({"result", id, "--json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.out << as_json.err;
  auto finished = Json::parse(as_json.out);
  ASSERT_TRUE(finished) << as_json.out;
  EXPECT_TRUE((*finished)["done"].as_bool());
  EXPECT_EQ((*finished)["invocation_id"].as_string(), id);
  EXPECT_EQ((*finished)["status"].as_string(), "OK");

  ASSERT_TRUE(eventually([&] { return !history_rows("hello").empty(); }))
      << "no history row";
  const auto rows = history_rows("hello");
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_GE(rows[0].size(), 8u);
  EXPECT_EQ(rows[0][0], id);
  EXPECT_EQ(rows[0][1], "async");
  EXPECT_EQ(rows[0][2], "OK");
  EXPECT_EQ(rows[0][3], "1") << "the first attempt";

  const CommandResult listed = sprout({"history", "hello", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto history = Json::parse(listed.out);
  ASSERT_TRUE(history) << "not valid JSON: " << listed.out;
  EXPECT_EQ((*history)["status"].as_string(), "OK");
  EXPECT_EQ((*history)["function"].as_string(), "hello");
  ASSERT_EQ((*history)["entries"].size(), 1u) << listed.out;
  const Json& entry = (*history)["entries"][0];
  for (const char* field :
       {"request_id", "source", "source_id", "status", "attempt", "function_version",
        "start_unix_ms", "start", "duration_us", "billed_ms", "result", "error_type",
        "error_message", "log_tail", "truncated"})
    EXPECT_TRUE(entry.has(field)) << field << " missing from " << entry.dump();
  EXPECT_EQ(entry["request_id"].as_string(), id);
  EXPECT_EQ(entry["source"].as_string(), "async");
  EXPECT_EQ(entry["attempt"].as_int(), 1);
  EXPECT_EQ(entry["result"]["n"].as_int(), 5) << "the result embedded as JSON";
  EXPECT_GT(entry["start_unix_ms"].as_int(), 0);
  EXPECT_TRUE(entry["truncated"].is_bool());
}

// Provokes: `sprout result ID` of an event whose handler still sleeps.
// Expected: exit 3 with "ID: not finished" (and {"done": false} with
// --json); --wait then gives the result.
TEST_F(CliEventsTest, ResultOfAnUnfinishedEventExits3) {
  start_event_daemon();
  deploy_python("slow", kHandler, {"--timeout-ms", "20000"});
  const std::string id = invoke_async("slow", R"({"sleep": 5, "n": 1})");

  const CommandResult pending = sprout({"result", id});
  EXPECT_EQ(pending.exit_code, kExitNotFinished) << pending.out << pending.err;
  EXPECT_EQ(pending.err, id + ": not finished\n");
  const CommandResult pending_json = sprout({"result", id, "--json"});
  EXPECT_EQ(pending_json.exit_code, kExitNotFinished) << pending_json.out << pending_json.err;
  auto answer = Json::parse(pending_json.out);
  ASSERT_TRUE(answer) << pending_json.out;
  EXPECT_FALSE((*answer)["done"].as_bool());
  EXPECT_EQ((*answer)["invocation_id"].as_string(), id);

  const CommandResult waited = sprout({"result", id, "--wait"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  const CommandResult unknown = sprout({"result", "no-such-invocation"});
  EXPECT_EQ(unknown.exit_code, kExitNotFound) << unknown.out << unknown.err;
}

// Provokes: a failing event of a function deployed with --async-retries 0;
// a redeploy that fixes it, then `sprout dlq redrive`. Expected: the event
// in `sprout dlq ls` (one attempt, FUNCTION_ERROR, RetriesExhausted) and
// `sprout result` exits with FUNCTION_ERROR's code; the redrive prints
// "requeued 1 dead letter of NAME", and the history shows the id twice:
// FUNCTION_ERROR, then OK; the dead-letter store is empty again.
TEST_F(CliEventsTest, DeadLetterIsListedThenRedrivenAfterAFixedRedeploy) {
  start_event_daemon();
  deploy_python("orders", kHandler, {"--async-retries", "0"});
  const std::string id = invoke_async("orders", R"({"fail": true, "n": 20})");

  std::vector<std::vector<std::string>> letters;
  ASSERT_TRUE(eventually([&] {
    const CommandResult listed = sprout({"dlq", "ls", "orders"});
    letters = table_rows(listed.out);
    return listed.exit_code == 0 && !letters.empty();
  })) << "no dead letter";
  ASSERT_EQ(letters.size(), 1u);
  ASSERT_GE(letters[0].size(), 6u);
  EXPECT_EQ(letters[0][0], id);
  EXPECT_EQ(letters[0][1], "async");
  EXPECT_EQ(letters[0][2], "1") << "no retries";
  EXPECT_EQ(letters[0][3], "FUNCTION_ERROR");
  EXPECT_EQ(letters[0][4], "RetriesExhausted");
  const CommandResult as_json = sprout({"dlq", "ls", "orders", "--json"});
  auto listed = Json::parse(as_json.out);
  ASSERT_TRUE(listed) << as_json.out;
  EXPECT_EQ((*listed)["events"][0]["payload"]["n"].as_int(), 20) << as_json.out;
  const CommandResult failed = sprout({"result", id});
  EXPECT_EQ(failed.exit_code, kExitFunctionError) << failed.out << failed.err;

  deploy_python("orders", kHandler, {"--async-retries", "0", "--env", "FIXED=1"});
  const CommandResult redriven = sprout({"dlq", "redrive", "orders"});
  ASSERT_EQ(redriven.exit_code, 0) << redriven.err;
  EXPECT_EQ(redriven.out, "requeued 1 dead letter of orders\n");

  ASSERT_TRUE(eventually([&] { return history_rows("orders").size() == 2; }))
      << "the redriven event did not run";
  const auto rows = history_rows("orders");
  ASSERT_GE(rows[0].size(), 3u);
  ASSERT_GE(rows[1].size(), 3u);
  EXPECT_EQ(rows[0][0], id) << "the redrive keeps the request id";
  EXPECT_EQ(rows[0][2], "OK");
  EXPECT_EQ(rows[1][0], id);
  EXPECT_EQ(rows[1][2], "FUNCTION_ERROR");
  EXPECT_TRUE(table_rows(sprout({"dlq", "ls", "orders"}).out).empty())
      << "the redriven event left the store";
  const CommandResult nothing = sprout({"dlq", "redrive", "orders"});
  EXPECT_EQ(nothing.out, "requeued 0 dead letters of orders\n");
}

// Provokes: a failing event of a function deployed with --on-failure.
// Expected: `sprout get` shows the setting; the destination's `history
// --json` holds Lambda's destination record naming the event.
TEST_F(CliEventsTest, OnFailureDestinationRecordIsInTheDestinationsHistory) {
  start_event_daemon();
  deploy_python("sink", kEchoHandler);
  deploy_python("failing", kHandler, {"--async-retries", "0", "--on-failure", "sink"});
  const CommandResult got = sprout({"get", "failing"});
  EXPECT_NE(got.out.find("async: retries=0 max-age-s=21600 on-failure=sink"), std::string::npos)
      << got.out;
  const std::string id = invoke_async("failing", R"({"fail": true, "n": 3})");

  std::optional<Json> history;
  ASSERT_TRUE(eventually([&] {
    history = Json::parse(sprout({"history", "sink", "--json"}).out);
    return history && (*history)["entries"].size() == 1;
  })) << "the destination never ran";
  const Json& entry = (*history)["entries"][0];
  EXPECT_EQ(entry["source"].as_string(), "async");
  EXPECT_EQ(entry["status"].as_string(), "OK");
  const Json& record = entry["result"];
  EXPECT_EQ(record["version"].as_string(), "1.0") << entry.dump();
  EXPECT_EQ(record["requestContext"]["requestId"].as_string(), id);
  EXPECT_EQ(record["requestContext"]["condition"].as_string(), "RetriesExhausted");
  EXPECT_EQ(record["requestPayload"]["n"].as_int(), 3);
  EXPECT_EQ(record["responseContext"]["functionError"].as_string(), "Unhandled");
  EXPECT_TRUE(table_rows(sprout({"dlq", "ls", "failing"}).out).empty())
      << "sent to the destination, not dead-lettered";
}

// Provokes: schedule add/ls/rm and trigger add/ls/rm, each rm twice, and a
// bad expression. Expected: the documented lines and JSON; the second rm
// exits NOT_FOUND; the bad expression INVALID_ARGUMENT; nothing left listed.
TEST_F(CliEventsTest, ScheduleAndTriggerRoundTrips) {
  start_event_daemon();
  deploy_python("tick", kHandler);

  const CommandResult added =
      sprout({"schedule", "add", "tick", "--expr", "rate(1 hour)", "--id", "hourly"});
  ASSERT_EQ(added.exit_code, 0) << added.out << added.err;
  EXPECT_EQ(added.out.rfind("added schedule hourly for tick: rate(1 hour) in UTC, next fire ", 0),
            0u)
      << added.out;
  const auto schedules = table_rows(sprout({"schedule", "ls"}).out);
  ASSERT_EQ(schedules.size(), 1u);
  EXPECT_EQ(schedules[0][0], "hourly");
  EXPECT_EQ(schedules[0][1], "tick");
  auto listed = Json::parse(sprout({"schedule", "ls", "--json"}).out);
  ASSERT_TRUE(listed);
  const Json& schedule = (*listed)["schedules"][0];
  EXPECT_EQ(schedule["id"].as_string(), "hourly");
  EXPECT_EQ(schedule["expression"].as_string(), "rate(1 hour)");
  EXPECT_EQ(schedule["time_zone"].as_string(), "UTC");
  EXPECT_TRUE(schedule["payload"].is_null()) << "the default event";
  EXPECT_EQ(schedule["max_catch_up"].as_int(), 1);
  EXPECT_GT(schedule["next_fire_unix_ms"].as_int(), schedule["created_unix_ms"].as_int());

  const CommandResult bad = sprout({"schedule", "add", "tick", "--expr", "rate(1 hours)"});
  EXPECT_EQ(bad.exit_code, kExitInvalidArgument) << bad.out << bad.err;

  const CommandResult removed = sprout({"schedule", "rm", "hourly"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "removed schedule hourly\n");
  const CommandResult again = sprout({"schedule", "rm", "hourly"});
  EXPECT_EQ(again.exit_code, kExitNotFound) << again.out << again.err;
  EXPECT_TRUE(table_rows(sprout({"schedule", "ls"}).out).empty());

  const std::string inbox = dir_ + "/Inbox";
  std::filesystem::create_directories(inbox);
  const CommandResult trigger =
      sprout({"trigger", "add", "tick", "--watch", inbox, "--suffix", ".txt", "--id", "inbox"});
  ASSERT_EQ(trigger.exit_code, 0) << trigger.out << trigger.err;
  // The state in parentheses is what the trigger is doing at that moment
  // ("starting", then "active").
  EXPECT_EQ(trigger.out.rfind("added file trigger inbox for tick: dir=" + inbox +
                                  " bucket=inbox suffix=.txt (",
                              0),
            0u)
      << trigger.out;
  std::vector<std::vector<std::string>> triggers;
  ASSERT_TRUE(eventually([&] {
    triggers = table_rows(sprout({"trigger", "ls"}).out);
    return triggers.size() == 1 && triggers[0].back() == "active";
  })) << "the file trigger is not active";
  ASSERT_GE(triggers[0].size(), 5u);
  EXPECT_EQ(triggers[0][0], "inbox");
  EXPECT_EQ(triggers[0][1], "tick");
  EXPECT_EQ(triggers[0][2], "file");
  EXPECT_EQ(triggers[0][3], "0") << "nothing delivered yet";
  auto triggers_json = Json::parse(sprout({"trigger", "ls", "tick", "--json"}).out);
  ASSERT_TRUE(triggers_json);
  EXPECT_EQ((*triggers_json)["triggers"][0]["file"]["watch_dir"].as_string(), inbox);
  EXPECT_EQ((*triggers_json)["triggers"][0]["kind"].as_string(), "file");

  const CommandResult trigger_removed = sprout({"trigger", "rm", "inbox"});
  EXPECT_EQ(trigger_removed.exit_code, 0) << trigger_removed.err;
  EXPECT_EQ(trigger_removed.out, "removed trigger inbox\n");
  const CommandResult trigger_again = sprout({"trigger", "rm", "inbox", "--json"});
  EXPECT_EQ(trigger_again.exit_code, kExitNotFound) << trigger_again.out << trigger_again.err;
  auto refusal = Json::parse(trigger_again.out);
  ASSERT_TRUE(refusal) << "--json prints one object, for any status: " << trigger_again.out;
  EXPECT_EQ((*refusal)["status"].as_string(), "NOT_FOUND");
  EXPECT_TRUE(table_rows(sprout({"trigger", "ls"}).out).empty());
}

// Provokes: event commands typed wrong, with no sproutd running. Expected:
// each is a usage error (exit 2) found by the CLI itself, not "sproutd is
// not running" (22); a --watch that is not a directory is a local error.
TEST_F(CliEventsTest, UsageErrorsExit2WithoutADaemon) {
  const std::vector<std::vector<std::string>> mistakes = {
      {"history"},
      {"history", "f", "--limit", "many"},
      {"dlq"},
      {"dlq", "ls"},
      {"dlq", "purge", "f"},
      {"result"},
      {"invoke", "f", "--async", "--logs"},
      {"invoke", "f", "--async", "--timeout-ms", "5"},
      {"schedule", "add", "f"},
      {"schedule", "add", "f", "--expr", "rate(1 hour)", "--id", "bad id"},
      {"schedule", "rm"},
      {"trigger", "add", "f"},
      {"trigger", "add", "f", "--watch", "/tmp", "--nats", "nats://127.0.0.1:4222"},
      {"trigger", "add", "f", "--nats", "nats://127.0.0.1:4222", "--stream", "S"},
      {"trigger", "add", "f", "--watch", "/tmp", "--stream", "S"},
      {"trigger", "add", "f", "--nats", "nats://127.0.0.1:4222", "--stream", "S", "--subject",
       "x", "--bucket", "b"},
      {"trigger", "rm"},
      {"trigger", "ls", "--stream", "S"},
  };
  for (const auto& args : mistakes) {
    const CommandResult result = sprout(args);
    std::string typed;
    for (const auto& arg : args) typed += " " + arg;
    EXPECT_EQ(result.exit_code, kExitUsage) << "sprout" << typed << ": " << result.err;
    EXPECT_FALSE(result.err.empty()) << "sprout" << typed << " says why";
  }
  const CommandResult not_a_dir =
      sprout({"trigger", "add", "f", "--watch", dir_ + "/does-not-exist"});
  EXPECT_EQ(not_a_dir.exit_code, kExitLocalError) << not_a_dir.err;
}

// Provokes: an HTTP Event invocation (loopback, unsigned) of a handler that
// sleeps, and a kill -9 of sproutd right after its 202. Expected: 202; after
// the restart the event runs to OK with source async: it was on disk
// before the 202.
TEST_F(CliEventsTest, HttpEventInvocationIsAcceptedOnDiskBeforeThe202) {
  const int port = start_event_daemon_with_http();
  ASSERT_GT(port, 0) << "no HTTP port in sproutd's output";
  deploy_python("web", kHandler);
  const EventAnswer answer = post_event(port, "web", R"({"sleep": 2, "n": 9})");
  kill_daemon();
  EXPECT_EQ(answer.status, 202);

  start_event_daemon();
  ASSERT_TRUE(eventually([&] {
    for (const auto& entry : history("web"))
      if (entry.status() == api::OK) return true;
    return false;
  })) << "the event accepted with 202 did not run after the restart; see " << daemon_log_;
  for (const auto& entry : history("web")) {
    EXPECT_EQ(entry.source(), api::ASYNC);
    if (entry.status() != api::OK) continue;
    auto result = Json::parse(entry.result());
    ASSERT_TRUE(result) << entry.result();
    EXPECT_EQ((*result)["n"].as_int(), 9);
    EXPECT_EQ((*result)["id"].as_string(), entry.request_id());
  }
}

// Provokes: an HTTP Event invocation. Expected: as Lambda answers an Event
// invocation, the 202's x-amzn-RequestId is the event's request id: the
// aws_request_id its handler sees and the id in its history.
TEST_F(CliEventsTest, HttpEventAnswerCarriesTheEventsRequestId) {
  const int port = start_event_daemon_with_http();
  deploy_python("web", kHandler);
  const EventAnswer answer = post_event(port, "web", R"({"n": 1})");
  ASSERT_EQ(answer.status, 202);
  ASSERT_FALSE(answer.request_id.empty()) << "no x-amzn-RequestId";
  ASSERT_TRUE(eventually([&] { return !history("web").empty(); })) << "the event did not run";
  EXPECT_EQ(history("web")[0].request_id(), answer.request_id);
}

}  // namespace
}  // namespace sprout::testing
