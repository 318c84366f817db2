// NATS JetStream queue triggers end to end: the real sproutd, the real CLI
// and a real `nats-server -js` on a loopback port of its own. A handler that
// fails some messages of each batch sees the rest acked once and the failed
// ones redelivered, then dead-lettered to a stream that keeps them; a kill
// -9 of sproutd with a batch in flight loses no message; refusals and
// removals reach the broker.
//
// Deadlines: a message in flight when sproutd dies comes back only after
// the consumer's AckWait (30 s in sproutd) from its last in-progress mark,
// so the crash test waits up to 90 s; the others up to 60 s.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "events/nats/sqs_event.h"
#include "tests/e2e/mini_json.h"
#include "tests/events/nats/nats_test_support.h"
#include "tests/events_e2e/event_daemon.h"

namespace sprout::testing {
namespace {

using events::testing::NatsClient;
using events::testing::NatsServer;
using events::testing::ReceivedMessage;
using std::chrono::seconds;

// Exit codes of the CLI (docs/cli.md): 10 + the status.
constexpr int kExitNotFound = 19;
constexpr int kExitInvalidArgument = 20;
constexpr int kExitUnavailable = 22;

// Fails the records whose body starts with "fail", sleeps as a body
// "sleep S ..." asks, and answers with what it saw of each record:
// [body, messageId, ApproximateReceiveCount], so that the test counts
// deliveries from the history.
constexpr const char* kQueueHandler = R"(import time
def handler(event, context):
    seen, failures = [], []
    for record in event["Records"]:
        body = record["body"]
        if body.startswith("sleep "):
            time.sleep(float(body.split()[1]))
        seen.append([body, record["messageId"],
                     int(record["attributes"]["ApproximateReceiveCount"])])
        if body.startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    print("batch of", len(seen), "failed", len(failures))
    return {"batchItemFailures": failures, "seen": seen}
)";

// Answers with the one record it was given, its long receiptHandle
// shortened to what the test checks (the history keeps 1 KiB of a result).
constexpr const char* kShapeHandler = R"(def handler(event, context):
    record = dict(event["Records"][0])
    record["receiptHandle"] = record["receiptHandle"][:8]
    record["records"] = len(event["Records"])
    return record
)";

// One delivery of a message, as the handler reported it.
struct Seen {
  std::string message_id;
  int receive_count = 0;
};

// Every stored message of `stream`, in order, read back with a connection
// of its own (NatsClient has no getter for a stream's messages).
std::vector<ReceivedMessage> read_stream(const std::string& url, const std::string& stream,
                                         uint64_t count) {
  std::vector<ReceivedMessage> messages;
  natsConnection* connection = nullptr;
  jsCtx* context = nullptr;
  natsStatus status = natsConnection_ConnectTo(&connection, url.c_str());
  if (status == NATS_OK) status = natsConnection_JetStream(&context, connection, nullptr);
  EXPECT_EQ(status, NATS_OK) << natsStatus_GetText(status);
  for (uint64_t sequence = 1; status == NATS_OK && sequence <= count; ++sequence) {
    natsMsg* message = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (js_GetMsg(&message, context, stream.c_str(), sequence, nullptr, &code) != NATS_OK) {
      ADD_FAILURE() << "no message " << sequence << " in " << stream << " (" << code << ")";
      continue;
    }
    ReceivedMessage received;
    received.subject = natsMsg_GetSubject(message);
    received.data.assign(natsMsg_GetData(message),
                         static_cast<size_t>(natsMsg_GetDataLength(message)));
    const char** keys = nullptr;
    int key_count = 0;
    if (natsMsgHeader_Keys(message, &keys, &key_count) == NATS_OK) {
      for (int i = 0; i < key_count; ++i) {
        const char* value = nullptr;
        if (natsMsgHeader_Get(message, keys[i], &value) == NATS_OK)
          received.headers[keys[i]] = value != nullptr ? value : "";
      }
      free(static_cast<void*>(keys));
    }
    natsMsg_Destroy(message);
    messages.push_back(std::move(received));
  }
  jsCtx_Destroy(context);
  natsConnection_Destroy(connection);
  return messages;
}

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class NatsEventsTest : public EventDaemonTest {
 protected:
  void SetUp() override {
    EventDaemonTest::SetUp();
    if (IsSkipped()) return;
    server_ = std::make_unique<NatsServer>();
    ASSERT_TRUE(server_->running()) << "nats-server did not start";
    client_ = std::make_unique<NatsClient>(server_->url());
  }

  void TearDown() override {
    // sproutd first: its triggers hold connections to the broker.
    EventDaemonTest::TearDown();
    client_.reset();
    server_.reset();  // killed, reaped, its store removed
  }

  // `sprout trigger add FUNCTION --nats ... --id ID` with `flags`; asserts
  // success.
  void add_trigger(const std::string& function, const std::string& id,
                   const std::vector<std::string>& flags) {
    std::vector<std::string> args{"trigger", "add", function, "--nats", server_->url(), "--id",
                                  id};
    args.insert(args.end(), flags.begin(), flags.end());
    const CommandResult added = sprout(args);
    ASSERT_EQ(added.exit_code, 0) << added.out << added.err;
    EXPECT_NE(added.out.find("added nats trigger " + id + " for " + function), std::string::npos)
        << added.out;
  }

  // Every delivery the handler reported in the history of `function`, by
  // body; batches that the handler did not answer OK are not counted.
  std::map<std::string, std::vector<Seen>> deliveries(const std::string& function) {
    std::map<std::string, std::vector<Seen>> by_body;
    for (const api::HistoryEntry& entry : history(function)) {
      if (entry.status() != api::OK) continue;
      auto result = Json::parse(entry.result());
      if (!result) {
        ADD_FAILURE() << "not JSON: " << entry.result();
        continue;
      }
      for (const Json& item : (*result)["seen"].items()) {
        by_body[item[0].as_string()].push_back(
            Seen{.message_id = item[1].as_string(), .receive_count = static_cast<int>(item[2].as_int())});
      }
    }
    return by_body;
  }

  // No message of the consumer waits to be delivered or acknowledged.
  bool consumer_idle(const std::string& stream, const std::string& durable) {
    const auto state = client_->consumer(stream, durable);
    return state.exists && state.ack_pending == 0 && state.pending == 0;
  }

  std::unique_ptr<NatsServer> server_;
  std::unique_ptr<NatsClient> client_;
};

// Provokes: 20 messages in batches of at most 5, of which the handler fails
// 4 (by batchItemFailures) on every delivery, with --max-deliveries 3.
// Expected: each good message handled exactly once, on its first delivery;
// each failing one delivered 3 times (ApproximateReceiveCount 1, 2, 3)
// under one messageId, then published with its data and sprout's headers to
// the dead-letter subject, kept by a stream there, and never delivered
// again (the consumer has nothing pending or unacknowledged).
TEST_F(NatsEventsTest, FailedItemsAreRedeliveredThenDeadLetteredAndTheRestAckedOnce) {
  client_->add_stream("ORDERS", {"orders.>"});
  client_->add_stream("DEAD", {"sprout.dlq.>"});
  start_event_daemon();
  deploy_python("pay", kQueueHandler, {"--timeout-ms", "20000"});
  add_trigger("pay", "orders",
              {"--stream", "ORDERS", "--subject", "orders.>", "--batch", "5",
               "--batch-window-ms", "200", "--max-deliveries", "3"});

  std::set<std::string> good, failing;
  for (int i = 0; i < 20; ++i) {
    const bool fail = i % 5 == 2;
    const std::string body = (fail ? "fail " : "ok ") + std::to_string(i);
    (fail ? failing : good).insert(body);
    client_->publish("orders.new", body);
  }

  ASSERT_TRUE(eventually([&] { return client_->stream_messages("DEAD") >= failing.size(); },
                         seconds(60)))
      << "the failing messages were not dead-lettered; see " << daemon_log_;
  ASSERT_TRUE(eventually([&] { return consumer_idle("ORDERS", "sprout-orders"); }, seconds(60)))
      << "messages still pending or unacknowledged";
  // The history is written a moment after each invocation.
  ASSERT_TRUE(eventually([&] {
    auto seen = deliveries("pay");
    for (const auto& body : good)
      if (seen[body].empty()) return false;
    for (const auto& body : failing)
      if (seen[body].size() < 3) return false;
    return true;
  })) << "the history does not show every delivery";

  const auto seen = deliveries("pay");
  for (const auto& [body, list] : seen) {
    EXPECT_TRUE(good.count(body) || failing.count(body)) << "a body never published: " << body;
    for (const Seen& delivery : list)
      EXPECT_EQ(delivery.message_id, list[0].message_id) << body << ": one messageId throughout";
  }
  for (const auto& body : good) {
    ASSERT_EQ(seen.at(body).size(), 1u) << body << " handled more than once";
    EXPECT_EQ(seen.at(body)[0].receive_count, 1) << body;
  }
  std::set<std::string> failing_ids;
  for (const auto& body : failing) {
    std::multiset<int> counts;
    for (const Seen& delivery : seen.at(body)) counts.insert(delivery.receive_count);
    EXPECT_EQ(counts, (std::multiset<int>{1, 2, 3})) << body << ": delivered after dead-lettering?";
    failing_ids.insert(seen.at(body)[0].message_id);
  }
  for (const api::HistoryEntry& entry : history("pay")) {
    EXPECT_EQ(entry.source(), api::QUEUE);
    EXPECT_EQ(entry.source_id(), "orders");
    auto result = Json::parse(entry.result());
    ASSERT_TRUE(result) << entry.result();
    EXPECT_LE((*result)["seen"].size(), 5u) << "a batch over --batch 5";
  }

  const auto letters = read_stream(server_->url(), "DEAD", client_->stream_messages("DEAD"));
  ASSERT_EQ(letters.size(), failing.size()) << "each failing message dead-lettered once";
  std::set<std::string> dead_bodies;
  for (const ReceivedMessage& letter : letters) {
    dead_bodies.insert(letter.data);
    EXPECT_EQ(letter.subject, "sprout.dlq.pay");
    EXPECT_EQ(letter.headers.count("Sprout-Function") ? letter.headers.at("Sprout-Function") : "",
              "pay");
    EXPECT_EQ(letter.headers.count("Sprout-Trigger") ? letter.headers.at("Sprout-Trigger") : "",
              "orders");
    EXPECT_EQ(letter.headers.count("Sprout-Delivery-Count")
                  ? letter.headers.at("Sprout-Delivery-Count")
                  : "",
              "3");
    EXPECT_EQ(letter.headers.count("Sprout-Source-Stream") ? letter.headers.at("Sprout-Source-Stream")
                                                           : "",
              "ORDERS");
    EXPECT_EQ(letter.headers.count("Sprout-Source-Subject")
                  ? letter.headers.at("Sprout-Source-Subject")
                  : "",
              "orders.new");
    ASSERT_TRUE(letter.headers.count("Sprout-Source-Sequence")) << letter.data;
    EXPECT_TRUE(failing_ids.count(events::sqs_message_id(
        "ORDERS", std::stoull(letter.headers.at("Sprout-Source-Sequence")))))
        << letter.data << ": its sequence is not that of a failing message";
    EXPECT_NE(letter.headers.count("Sprout-Dead-Letter-Reason")
                  ? letter.headers.at("Sprout-Dead-Letter-Reason").find("batchItemFailures")
                  : std::string::npos,
              std::string::npos)
        << "the reason names the handler's report";
  }
  EXPECT_EQ(dead_bodies, failing) << "the dead letters carry the failing messages' data";

  // `trigger ls` counts every message handed over, redeliveries included.
  const CommandResult listed = sprout({"trigger", "ls", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto triggers = Json::parse(listed.out);
  ASSERT_TRUE(triggers) << listed.out;
  ASSERT_EQ((*triggers)["triggers"].size(), 1u) << listed.out;
  EXPECT_EQ((*triggers)["triggers"][0]["delivered"].as_int(),
            static_cast<int64_t>(good.size() + 3 * failing.size()));
  EXPECT_EQ((*triggers)["triggers"][0]["state"].as_string(), "active");
}

// Provokes: one message with a NATS header. Expected: the handler gets
// Lambda's SQS event shape: eventSource aws:sqs, the stream's ARN, the
// header as a String message attribute, the publish subject as SenderId,
// the body's MD5; the history names the trigger.
TEST_F(NatsEventsTest, MessagesArriveAsSqsRecords) {
  client_->add_stream("ORDERS", {"orders.>"});
  start_event_daemon();
  deploy_python("shape", kShapeHandler);
  add_trigger("shape", "shape-orders", {"--stream", "ORDERS", "--subject", "orders.*"});
  client_->publish("orders.new", "hello", {{"Trace-Id", "abc"}});

  ASSERT_TRUE(eventually([&] { return !history("shape").empty(); }, seconds(60)))
      << "the message was not delivered; see " << daemon_log_;
  const api::HistoryEntry entry = history("shape")[0];
  EXPECT_EQ(entry.source(), api::QUEUE);
  EXPECT_EQ(entry.source_id(), "shape-orders");
  ASSERT_EQ(entry.status(), api::OK) << entry.error_message();
  auto record = Json::parse(entry.result());
  ASSERT_TRUE(record) << entry.result();
  EXPECT_EQ((*record)["records"].as_int(), 1);
  EXPECT_EQ((*record)["eventSource"].as_string(), "aws:sqs");
  EXPECT_EQ((*record)["eventSourceARN"].as_string(), "arn:aws:sqs:us-east-1:000000000000:ORDERS");
  EXPECT_EQ((*record)["awsRegion"].as_string(), "us-east-1");
  EXPECT_EQ((*record)["messageId"].as_string(), events::sqs_message_id("ORDERS", 1));
  EXPECT_EQ((*record)["receiptHandle"].as_string(), "$JS.ACK.");
  EXPECT_EQ((*record)["body"].as_string(), "hello");
  EXPECT_EQ((*record)["md5OfBody"].as_string(), "5d41402abc4b2a76b9719d911017c592");
  const Json& attributes = (*record)["attributes"];
  EXPECT_EQ(attributes["ApproximateReceiveCount"].as_string(), "1");
  EXPECT_EQ(attributes["SenderId"].as_string(), "orders.new");
  EXPECT_FALSE(attributes["SentTimestamp"].as_string().empty()) << record->dump();
  const Json& trace = (*record)["messageAttributes"]["Trace-Id"];
  EXPECT_EQ(trace["stringValue"].as_string(), "abc") << record->dump();
  EXPECT_EQ(trace["dataType"].as_string(), "String");
}

// Provokes: a kill -9 of sproutd while the handler (2 s a batch) holds a
// batch, with more messages waiting; then a restart. Expected: every
// message is handled OK in the end (none lost), under the messageId of its
// stream sequence, stable across the restart; the batch in flight comes
// back (AckWait after its last in-progress mark) with a higher
// ApproximateReceiveCount.
//
// The history keeps its newest entries in memory for ~100 ms before
// writing them (docs/events.md: a crash may lose them), so what it showed
// just before the kill counts too.
TEST_F(NatsEventsTest, NothingIsLostAcrossAKill9WithABatchInFlight) {
  client_->add_stream("JOBS", {"jobs.>"});
  start_event_daemon();
  deploy_python("work", kQueueHandler, {"--timeout-ms", "20000"});
  add_trigger("work", "jobs",
              {"--stream", "JOBS", "--subject", "jobs.>", "--batch", "5", "--batch-window-ms",
               "200", "--max-deliveries", "5"});
  constexpr int kMessages = 20;
  for (int i = 0; i < kMessages; ++i) {
    // The first of each batch makes the handler sleep: batches last 2 s.
    client_->publish("jobs.run", (i % 5 == 0 ? "sleep 2 " : "job ") + std::to_string(i));
  }
  // One batch done, the next one in flight.
  std::map<std::string, std::vector<Seen>> before_kill;
  ASSERT_TRUE(eventually([&] {
    before_kill = deliveries("work");
    return !before_kill.empty() && client_->consumer("JOBS", "sprout-jobs").ack_pending > 0;
  }, seconds(60))) << "no batch finished while another was in flight; see " << daemon_log_;
  kill_daemon();

  start_event_daemon();
  const auto all_deliveries = [&] {
    auto merged = deliveries("work");
    for (const auto& [body, list] : before_kill)
      if (merged[body].empty()) merged[body] = list;  // the entries the kill took
    return merged;
  };
  ASSERT_TRUE(eventually([&] { return all_deliveries().size() == static_cast<size_t>(kMessages); },
                         seconds(90)))
      << "messages lost across the kill -9: " << all_deliveries().size() << " of " << kMessages
      << " handled; see " << daemon_log_;
  ASSERT_TRUE(eventually([&] { return consumer_idle("JOBS", "sprout-jobs"); }, seconds(30)));

  int redelivered = 0;
  for (const auto& [body, list] : all_deliveries()) {
    const uint64_t sequence = std::stoull(body.substr(body.rfind(' ') + 1)) + 1;
    for (const Seen& delivery : list) {
      EXPECT_EQ(delivery.message_id, events::sqs_message_id("JOBS", sequence))
          << body << ": the messageId is that of its stream sequence, on every delivery";
      if (delivery.receive_count > 1) ++redelivered;
    }
  }
  EXPECT_GT(redelivered, 0) << "the batch in flight at the kill came back redelivered";
  const CommandResult listed = sprout({"trigger", "ls"});
  EXPECT_NE(listed.out.find("jobs"), std::string::npos) << "the trigger survives: " << listed.out;
}

// Provokes: triggers that cannot work (a stream that does not exist, a
// subject the stream does not hold, a broker that does not answer, a
// function that does not exist), then the removal of a trigger, twice, and
// the deletion of a function that has one. Expected: clear refusals with
// the documented exit codes, nothing kept; `trigger rm` deletes the durable
// consumer from the broker and a second rm is NOT_FOUND; deleting the
// function removes its trigger and its consumer.
TEST_F(NatsEventsTest, RefusalsAndRemovalsReachTheBroker) {
  client_->add_stream("ORDERS", {"orders.>"});
  start_event_daemon();
  deploy_python("pay", kQueueHandler);

  const CommandResult no_stream = sprout({"trigger", "add", "pay", "--nats", server_->url(),
                                          "--stream", "NOPE", "--subject", "orders.>"});
  EXPECT_EQ(no_stream.exit_code, kExitInvalidArgument) << no_stream.out << no_stream.err;
  EXPECT_NE(no_stream.err.find("NOPE"), std::string::npos) << no_stream.err;

  const CommandResult foreign_subject = sprout({"trigger", "add", "pay", "--nats", server_->url(),
                                                "--stream", "ORDERS", "--subject", "payments.>"});
  EXPECT_EQ(foreign_subject.exit_code, kExitInvalidArgument)
      << foreign_subject.out << foreign_subject.err;

  {
    // A port bound but not listening: the broker refuses the connection.
    const int closed = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(closed, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    ASSERT_EQ(getsockname(closed, reinterpret_cast<sockaddr*>(&address), &length), 0);
    const CommandResult no_broker =
        sprout({"trigger", "add", "pay", "--nats",
                "nats://127.0.0.1:" + std::to_string(ntohs(address.sin_port)), "--stream",
                "ORDERS", "--subject", "orders.>"});
    close(closed);
    EXPECT_EQ(no_broker.exit_code, kExitUnavailable) << no_broker.out << no_broker.err;
  }

  const CommandResult no_function = sprout({"trigger", "add", "nope", "--nats", server_->url(),
                                            "--stream", "ORDERS", "--subject", "orders.>"});
  EXPECT_EQ(no_function.exit_code, kExitNotFound) << no_function.out << no_function.err;

  const CommandResult none = sprout({"trigger", "ls", "--json"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ((*Json::parse(none.out))["triggers"].size(), 0u) << "a refusal keeps nothing: "
                                                              << none.out;

  add_trigger("pay", "first", {"--stream", "ORDERS", "--subject", "orders.>"});
  EXPECT_TRUE(client_->consumer("ORDERS", "sprout-first").exists);
  const CommandResult removed = sprout({"trigger", "rm", "first"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "removed trigger first\n");
  EXPECT_FALSE(client_->consumer("ORDERS", "sprout-first").exists)
      << "trigger rm deletes the durable consumer";
  const CommandResult again = sprout({"trigger", "rm", "first"});
  EXPECT_EQ(again.exit_code, kExitNotFound) << again.out << again.err;

  add_trigger("pay", "second", {"--stream", "ORDERS", "--subject", "orders.>"});
  EXPECT_TRUE(client_->consumer("ORDERS", "sprout-second").exists);
  const CommandResult deleted = sprout({"rm", "pay"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.out << deleted.err;
  const CommandResult after = sprout({"trigger", "ls", "--json"});
  EXPECT_EQ((*Json::parse(after.out))["triggers"].size(), 0u) << after.out;
  EXPECT_TRUE(eventually([&] { return !client_->consumer("ORDERS", "sprout-second").exists; },
                         seconds(10)))
      << "deleting the function deletes its trigger's consumer";
}

// Measures, for the record (docs/benchmarks.md): the delivery latency of
// an idle trigger (publish to the invocation's start, from the history's
// start_unix_ms, over 10 messages one at a time, after a warm-up), and the
// throughput of a backlog of 200 messages in batches of 10 (from the
// trigger's creation to the end of the last batch). Expected: every
// message handled exactly once; the numbers are printed, not judged.
TEST_F(NatsEventsTest, DeliveryLatencyAndThroughput) {
  client_->add_stream("BENCH", {"bench.>"});
  client_->add_stream("IDLE", {"idle.>"});
  start_event_daemon();
  deploy_python("count", kQueueHandler);
  deploy_python("ping", kQueueHandler);

  // Latency: one message at a time on an idle trigger.
  add_trigger("ping", "idle", {"--stream", "IDLE", "--subject", "idle.>"});
  client_->publish("idle.ping", "warm-up");
  ASSERT_TRUE(eventually([&] { return history("ping").size() == 1; }, seconds(60)));
  std::vector<int64_t> latencies_ms;
  for (int i = 0; i < 10; ++i) {
    const int64_t published_ms = unix_ms_now();
    client_->publish("idle.ping", "ping " + std::to_string(i));
    ASSERT_TRUE(eventually([&] { return history("ping").size() == static_cast<size_t>(i + 2); },
                           seconds(30)));
    latencies_ms.push_back(history("ping")[0].start_unix_ms() - published_ms);
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());

  // Throughput: a backlog of 200, then the trigger.
  constexpr int kBacklog = 200;
  for (int i = 0; i < kBacklog; ++i) client_->publish("bench.item", "item " + std::to_string(i));
  const int64_t added_ms = unix_ms_now();
  add_trigger("count", "bench", {"--stream", "BENCH", "--subject", "bench.>", "--batch", "10"});
  ASSERT_TRUE(eventually([&] { return consumer_idle("BENCH", "sprout-bench"); }, seconds(120)));
  ASSERT_TRUE(eventually([&] { return deliveries("count").size() == static_cast<size_t>(kBacklog); }, seconds(30)));
  int64_t last_end_ms = 0;
  int64_t first_start_ms = INT64_MAX;
  size_t batches = 0;
  for (const api::HistoryEntry& entry : history("count")) {
    first_start_ms = std::min<int64_t>(first_start_ms, entry.start_unix_ms());
    last_end_ms = std::max<int64_t>(
        last_end_ms, entry.start_unix_ms() + static_cast<int64_t>(entry.duration_us() / 1000));
    ++batches;
  }
  for (const auto& [body, list] : deliveries("count"))
    EXPECT_EQ(list.size(), 1u) << body << " handled more than once";
  const double elapsed_s = static_cast<double>(last_end_ms - added_ms) / 1000.0;
  const double rate = kBacklog / elapsed_s;
  std::printf(
      "NATS delivery latency (publish -> invocation start, idle trigger, 10 messages): "
      "min %lld ms, median %lld ms, max %lld ms\n"
      "NATS throughput: %d messages in %zu batches (batch 10) in %.2f s = %.0f messages/s "
      "from the trigger's creation; %.0f messages/s from the first batch's start\n",
      static_cast<long long>(latencies_ms.front()),
      static_cast<long long>(latencies_ms[latencies_ms.size() / 2]),
      static_cast<long long>(latencies_ms.back()), kBacklog, batches, elapsed_s, rate,
      kBacklog * 1000.0 / static_cast<double>(std::max<int64_t>(last_end_ms - first_start_ms, 1)));
  RecordProperty("latency_median_ms", static_cast<int>(latencies_ms[latencies_ms.size() / 2]));
  RecordProperty("throughput_messages_per_s", static_cast<int>(rate));
  EXPECT_GE(batches, static_cast<size_t>(kBacklog / 10)) << "batches of at most 10";
}

}  // namespace
}  // namespace sprout::testing
