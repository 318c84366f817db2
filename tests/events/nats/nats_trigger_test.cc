// NATS triggers against a real nats-server with JetStream: batches in
// Lambda's SQS shape, partial failures, redelivery, dead letters, a crash
// in flight, persistence, validation and a prompt stop. The function is a
// FakeInvoker the test scripts.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "events/nats/nats_triggers.h"
#include "events/nats/sqs_event.h"
#include "tests/events/nats/nats_test_support.h"

namespace sprout::events {
namespace {

using std::chrono::milliseconds;
using testing::eventually;
using testing::FakeInvoker;
using testing::NatsClient;
using testing::NatsServer;
using testing::SqsRecord;

NatsTriggerTiming fast_timing() {
  NatsTriggerTiming timing;
  timing.ack_wait = milliseconds(30000);
  timing.fetch_poll = milliseconds(100);
  timing.retry_min = milliseconds(50);
  timing.retry_max = milliseconds(200);
  timing.reconnect_min = milliseconds(50);
  timing.reconnect_max = milliseconds(500);
  return timing;
}

// A loopback port nothing listens on.
int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), size), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  close(fd);
  return ntohs(address.sin_port);
}

template <typename F>
milliseconds time_of(F&& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

std::map<std::string, std::vector<int>> receive_counts_by_body(const std::vector<SqsRecord>& records) {
  std::map<std::string, std::vector<int>> counts;
  for (const SqsRecord& record : records) counts[record.body].push_back(record.receive_count);
  return counts;
}

class NatsTriggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sprout-test-nats-state-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    server_ = std::make_unique<NatsServer>();
    ASSERT_TRUE(server_->running());
    client_ = std::make_unique<NatsClient>(server_->url());
    client_->add_stream("ORDERS", {"orders.>"});
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<NatsTriggers> open(FakeInvoker& invoker,
                                     NatsTriggerTiming timing = fast_timing()) {
    NatsTriggersOptions options;
    options.database_path = dir_ + "/events.db";
    options.function_exists = [](const std::string& name) { return name == "fn" || name == "other"; };
    options.timing = timing;
    Result<std::unique_ptr<NatsTriggers>> triggers = NatsTriggers::open(invoker, options);
    EXPECT_TRUE(triggers) << triggers.error().message();
    return triggers ? std::move(*triggers) : nullptr;
  }

  api::Trigger definition(const std::string& id, uint32_t batch = 10, uint32_t window_ms = 0,
                          uint32_t max_deliveries = 3) const {
    api::Trigger trigger;
    trigger.set_id(id);
    trigger.set_function("fn");
    api::NatsTrigger& nats = *trigger.mutable_nats();
    nats.set_url(server_->url());
    nats.set_stream("ORDERS");
    nats.set_subject("orders.>");
    nats.set_batch_size(batch);
    nats.set_batch_window_ms(window_ms);
    nats.set_max_deliveries(max_deliveries);
    return trigger;
  }

  // Everything delivered is settled: nothing waits for an ack or a
  // redelivery, nothing is left to deliver.
  bool settled(const std::string& id) {
    const testing::ConsumerState state = client_->consumer("ORDERS", "sprout-" + id);
    return state.exists && state.ack_pending == 0 && state.pending == 0;
  }

  std::string dir_;
  std::unique_ptr<NatsServer> server_;
  std::unique_ptr<NatsClient> client_;
};

TEST_F(NatsTriggerTest, DeliversMessagesAsSqsBatchesAndAcksThem) {
  FakeInvoker invoker;
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  triggers->start();
  Result<api::Trigger> added = triggers->add(definition("t1"));
  ASSERT_TRUE(added) << added.error().message();

  client_->publish("orders.new", "{\"n\":1}", {{"trace", "abc"}});
  client_->publish("orders.old", "two");
  client_->publish("orders.new", "three");
  ASSERT_TRUE(eventually([&] { return invoker.records().size() >= 3; }));
  ASSERT_TRUE(eventually([&] { return settled("t1"); }));

  const std::vector<SqsRecord> records = invoker.records();
  ASSERT_EQ(records.size(), 3U) << "each message once";
  const std::vector<std::string> bodies = {"{\"n\":1}", "two", "three"};
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].body, bodies[i]) << "in stream order";
    EXPECT_EQ(records[i].message_id, sqs_message_id("ORDERS", i + 1));
    EXPECT_EQ(records[i].receive_count, 1);
    EXPECT_NE(records[i].receipt_handle.find("$JS.ACK.ORDERS.sprout-t1."), std::string::npos);
  }
  EXPECT_EQ(records[0].attributes.at("trace"), "abc");

  const testing::SeenCall first = invoker.calls().front();
  EXPECT_EQ(first.call.function, "fn");
  EXPECT_EQ(first.call.source, api::QUEUE);
  EXPECT_EQ(first.call.source_id, "t1");
  EXPECT_EQ(first.call.attempt, 1U);
  EXPECT_NE(first.call.payload.find("\"eventSource\":\"aws:sqs\""), std::string::npos);
  EXPECT_NE(first.call.payload.find("\"eventSourceARN\":\"arn:aws:sqs:us-east-1:000000000000:ORDERS\""),
            std::string::npos);
  EXPECT_NE(first.call.payload.find("\"SenderId\":\"orders.new\""), std::string::npos);

  EXPECT_EQ(client_->consumer("ORDERS", "sprout-t1").redelivered, 0) << "acked, not redelivered";
  const std::vector<api::Trigger> listed = triggers->list("fn");
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].state(), "active");
  EXPECT_EQ(listed[0].delivered(), 3U);
}

TEST_F(NatsTriggerTest, AFullBatchGoesAtOnceAndNoBatchIsLargerThanItsSize) {
  for (int i = 0; i < 8; ++i) client_->publish("orders.new", "m" + std::to_string(i));
  FakeInvoker invoker;
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  triggers->start();
  // A window far longer than the test's deadline: only full batches can go.
  ASSERT_TRUE(triggers->add(definition("t1", /*batch=*/4, /*window_ms=*/120000)));
  ASSERT_TRUE(eventually([&] { return invoker.records().size() >= 8; }, milliseconds(30000)));
  const std::vector<testing::SeenCall> calls = invoker.calls();
  ASSERT_EQ(calls.size(), 2U);
  EXPECT_EQ(calls[0].records.size(), 4U);
  EXPECT_EQ(calls[1].records.size(), 4U);
  EXPECT_EQ(calls[1].records.front().body, "m4");
}

// Provokes: a full batch whose SQS event would be over the 6 MiB payload
// limit (nine 800 KB messages, batch 10). Expected: the batch is cut below
// the limit and the rest goes in the next one; every message reaches the
// handler once, none is dead-lettered for the batch's size.
TEST_F(NatsTriggerTest, ABatchOverThePayloadLimitIsCutNotRefused) {
  const std::string big(800 * 1000, 'x');
  for (int i = 0; i < 9; ++i) client_->publish("orders.new", std::to_string(i) + big);
  FakeInvoker invoker;
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  triggers->start();
  ASSERT_TRUE(triggers->add(definition("t1", /*batch=*/10, /*window_ms=*/1500)));
  ASSERT_TRUE(eventually([&] { return invoker.records().size() >= 9; }, milliseconds(60000)));
  const std::vector<testing::SeenCall> calls = invoker.calls();
  ASSERT_GE(calls.size(), 2U) << "nine 800 KB records do not fit one 6 MiB event";
  std::set<std::string> bodies;
  for (const auto& call : calls) {
    size_t bytes = 0;
    for (const SqsRecord& record : call.records) {
      bodies.insert(record.body.substr(0, 1));
      bytes += record.body.size();
    }
    EXPECT_LT(bytes, 6U * 1024 * 1024);
  }
  EXPECT_EQ(bodies.size(), 9U) << "every message reached the handler";
  EXPECT_EQ(invoker.records().size(), 9U) << "and none twice";
}

TEST_F(NatsTriggerTest, TheWindowGathersMessagesThatComeLater) {
  FakeInvoker invoker;
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  triggers->start();
  ASSERT_TRUE(triggers->add(definition("t1", /*batch=*/10, /*window_ms=*/4000)));
  ASSERT_TRUE(eventually([&] { return triggers->list("")[0].state() == "active"; }));
  client_->publish("orders.new", "first");
  std::this_thread::sleep_for(milliseconds(300));  // well inside the window
  client_->publish("orders.new", "second");
  ASSERT_TRUE(eventually([&] { return invoker.records().size() >= 2; }));
  const std::vector<testing::SeenCall> calls = invoker.calls();
  ASSERT_EQ(calls.size(), 1U) << "one batch for both";
  EXPECT_EQ(calls[0].records.size(), 2U);
}

TEST_F(NatsTriggerTest, FailedItemsAreRedeliveredThenDeadLetteredTheRestAcked) {
  client_->add_stream("DLQ", {"sprout.dlq.>"});
  client_->listen("sprout.dlq.fn");
  FakeInvoker invoker;
  invoker.set_script([](const testing::SeenCall& seen) -> std::optional<api::InvokeResponse> {
    std::vector<std::string> failed;
    for (const SqsRecord& record : seen.records) {
      if (record.body == "m1" || record.body == "m4") failed.push_back(record.message_id);
    }
    return testing::failing_items(failed);
  });
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  triggers->start();
  ASSERT_TRUE(triggers->add(definition("t1", 10, 0, /*max_deliveries=*/3)));
  for (int i = 0; i < 6; ++i) {
    client_->publish("orders.new", "m" + std::to_string(i),
                     {{"trace", "trace-" + std::to_string(i)}});
  }

  ASSERT_TRUE(eventually([&] { return client_->heard().size() >= 2; }));
  ASSERT_TRUE(eventually([&] { return settled("t1"); }));

  const auto counts = receive_counts_by_body(invoker.records());
  for (const char* ok : {"m0", "m2", "m3", "m5"}) {
    EXPECT_EQ(counts.at(ok), std::vector<int>({1})) << ok << " acked the first time";
  }
  for (const char* failed : {"m1", "m4"}) {
    EXPECT_EQ(counts.at(failed), std::vector<int>({1, 2, 3})) << failed;
  }
  std::vector<std::string> m1_ids;
  std::vector<std::string> m1_handles;
  for (const SqsRecord& record : invoker.records()) {
    if (record.body != "m1") continue;
    m1_ids.push_back(record.message_id);
    m1_handles.push_back(record.receipt_handle);
  }
  ASSERT_EQ(m1_ids.size(), 3U);
  EXPECT_EQ(m1_ids[0], m1_ids[2]) << "messageId is stable";
  EXPECT_NE(m1_handles[0], m1_handles[1]) << "receiptHandle is per delivery";

  std::vector<testing::ReceivedMessage> dead = client_->heard();
  ASSERT_EQ(dead.size(), 2U);
  std::sort(dead.begin(), dead.end(), [](const auto& a, const auto& b) { return a.data < b.data; });
  EXPECT_EQ(dead[0].data, "m1");
  EXPECT_EQ(dead[1].data, "m4");
  EXPECT_EQ(dead[0].headers.at("trace"), "trace-1") << "its own headers go along";
  EXPECT_EQ(dead[0].headers.at(kDeadLetterDeliveriesHeader), "3");
  EXPECT_EQ(dead[0].headers.at(kDeadLetterFunctionHeader), "fn");
  EXPECT_EQ(dead[0].headers.at(kDeadLetterTriggerHeader), "t1");
  EXPECT_EQ(dead[0].headers.at(kDeadLetterStreamHeader), "ORDERS");
  EXPECT_EQ(dead[0].headers.at(kDeadLetterSequenceHeader), "2");
  EXPECT_EQ(dead[0].headers.at(kDeadLetterSubjectHeader), "orders.new");
  EXPECT_NE(dead[0].headers.at(kDeadLetterReasonHeader).find("batchItemFailures"),
            std::string::npos);
  EXPECT_EQ(client_->stream_messages("DLQ"), 2U) << "kept by the stream on the DLQ subject";
}

TEST_F(NatsTriggerTest, AFunctionErrorFailsTheWholeBatch) {
  FakeInvoker invoker;
  invoker.set_script([](const testing::SeenCall& seen) -> std::optional<api::InvokeResponse> {
    if (seen.records.front().receive_count > 1) return testing::ok_answer();
    api::InvokeResponse error;
    error.set_status(api::FUNCTION_ERROR);
    error.set_error_message("boom");
    // A result naming one item does not make the others succeed.
    error.set_result(R"({"batchItemFailures":[]})");
    return error;
  });
  for (int i = 0; i < 3; ++i) client_->publish("orders.new", "m" + std::to_string(i));
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  triggers->start();
  ASSERT_TRUE(triggers->add(definition("t1", /*batch=*/3, /*window_ms=*/5000, 5)));
  ASSERT_TRUE(eventually([&] { return invoker.records().size() >= 6; }));
  ASSERT_TRUE(eventually([&] { return settled("t1"); }));
  const auto counts = receive_counts_by_body(invoker.records());
  for (const char* body : {"m0", "m1", "m2"}) {
    EXPECT_EQ(counts.at(body), std::vector<int>({1, 2})) << body;
  }
}

TEST_F(NatsTriggerTest, ExhaustedMessagesArePublishedWhenNoStreamKeepsTheSubject) {
  client_->listen("dead.orders");
  FakeInvoker invoker;
  invoker.set_script([](const testing::SeenCall&) -> std::optional<api::InvokeResponse> {
    api::InvokeResponse error;
    error.set_status(api::FUNCTION_ERROR);
    error.set_error_message("boom\nsecond line");
    return error;
  });
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  triggers->start();
  api::Trigger trigger = definition("t1", 10, 0, /*max_deliveries=*/2);
  trigger.mutable_nats()->set_dead_letter_subject("dead.orders");
  ASSERT_TRUE(triggers->add(trigger));
  client_->publish("orders.new", std::string("\x01\xff", 2));
  ASSERT_TRUE(eventually([&] { return !client_->heard().empty(); }));
  ASSERT_TRUE(eventually([&] { return settled("t1"); }));
  EXPECT_EQ(receive_counts_by_body(invoker.records()).at("Af8="), std::vector<int>({1, 2}))
      << "a binary body goes base64-encoded";
  const std::vector<testing::ReceivedMessage> dead = client_->heard();
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].data, std::string("\x01\xff", 2)) << "the data itself, not the body";
  EXPECT_EQ(dead[0].headers.at(kDeadLetterReasonHeader), "FUNCTION_ERROR: boom second line");
  EXPECT_EQ(dead[0].headers.at(kDeadLetterDeliveriesHeader), "2");
}

TEST_F(NatsTriggerTest, NothingIsLostWhenTheTriggerDiesWithABatchInFlight) {
  NatsTriggerTiming timing = fast_timing();
  timing.ack_wait = milliseconds(1000);
  client_->publish("orders.new", "m0");
  client_->publish("orders.new", "m1");

  FakeInvoker crashed;
  crashed.set_script([](const testing::SeenCall&) { return std::nullopt; });  // never answers
  std::vector<SqsRecord> before;
  {
    auto triggers = open(crashed, timing);
    ASSERT_TRUE(triggers);
    triggers->start();
    ASSERT_TRUE(triggers->add(definition("t1")));
    ASSERT_TRUE(eventually([&] { return crashed.held() == 1; }));
    before = crashed.records();
    // Held well past AckWait: in-progress marks keep JetStream from
    // redelivering a batch that still runs.
    std::this_thread::sleep_for(timing.ack_wait * 2);
    EXPECT_EQ(crashed.calls().size(), 1U);
    EXPECT_EQ(client_->consumer("ORDERS", "sprout-t1").redelivered, 0);
  }  // gone without settling anything
  crashed.release_held(testing::ok_answer());  // a late answer reaches nobody

  FakeInvoker restarted;
  auto triggers = open(restarted, timing);
  ASSERT_TRUE(triggers);
  triggers->start();
  ASSERT_TRUE(eventually([&] {
    const auto counts = receive_counts_by_body(restarted.records());
    return counts.contains("m0") && counts.contains("m1");
  }));
  ASSERT_TRUE(eventually([&] { return settled("t1"); }));
  for (const SqsRecord& held : before) {
    bool again = false;
    for (const SqsRecord& record : restarted.records()) {
      if (record.message_id == held.message_id) {
        again = true;
        EXPECT_GE(record.receive_count, 2);
      }
    }
    EXPECT_TRUE(again) << held.body << " was redelivered";
  }
}

TEST_F(NatsTriggerTest, DefinitionsPersistAndRemoveDeletesTheConsumer) {
  FakeInvoker invoker;
  std::vector<api::Trigger> added;
  {
    auto triggers = open(invoker);
    ASSERT_TRUE(triggers);
    Result<api::Trigger> first = triggers->add(definition("t1"));
    ASSERT_TRUE(first) << first.error().message();
    api::Trigger unnamed = definition("");
    unnamed.set_function("other");
    unnamed.mutable_nats()->set_batch_size(0);
    unnamed.mutable_nats()->set_max_deliveries(0);
    Result<api::Trigger> second = triggers->add(unnamed);
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_TRUE(std::regex_match(second->id(), std::regex("nats-[0-9a-f]{12}"))) << second->id();
    EXPECT_EQ(second->nats().durable_name(), "sprout-" + second->id());
    EXPECT_EQ(second->nats().batch_size(), 10U);
    EXPECT_EQ(second->nats().max_deliveries(), 5U);
    EXPECT_EQ(second->nats().dead_letter_subject(), "sprout.dlq.other");
    EXPECT_GT(second->created_unix_ms(), 0);
    EXPECT_EQ(second->state(), "stopped") << "not started yet";
    EXPECT_TRUE(client_->consumer("ORDERS", "sprout-" + second->id()).exists);
    added = {*first, *second};
  }
  auto reopened = open(invoker);
  ASSERT_TRUE(reopened);
  std::vector<api::Trigger> listed = reopened->list("");
  ASSERT_EQ(listed.size(), 2U);
  std::sort(added.begin(), added.end(), [](const auto& a, const auto& b) { return a.id() < b.id(); });
  for (size_t i = 0; i < listed.size(); ++i) {
    listed[i].clear_state();
    added[i].clear_state();
    EXPECT_EQ(listed[i].SerializeAsString(), added[i].SerializeAsString())
        << listed[i].ShortDebugString() << " vs " << added[i].ShortDebugString();
  }
  EXPECT_EQ(reopened->list("fn").size(), 1U);

  Result<bool> removed = reopened->remove("t1");
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(client_->consumer("ORDERS", "sprout-t1").exists);
  EXPECT_FALSE(*reopened->remove("t1"));
  Result<size_t> of_other = reopened->remove_function("other");
  ASSERT_TRUE(of_other);
  EXPECT_EQ(*of_other, 1U);
  reopened.reset();
  EXPECT_TRUE(open(invoker)->list("").empty());
}

TEST_F(NatsTriggerTest, RefusesBadDefinitionsWithTheRightStatus) {
  FakeInvoker invoker;
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  ASSERT_TRUE(triggers->add(definition("taken")));
  const auto refusal = [&](api::Trigger trigger, const std::string& word) {
    api::Status status = api::OK;
    Result<api::Trigger> added = triggers->add(std::move(trigger), &status);
    EXPECT_FALSE(added);
    if (!added) {
      EXPECT_NE(added.error().message().find(word), std::string::npos) << added.error().message();
    }
    return status;
  };
  api::Trigger trigger = definition("t1");
  trigger.set_function("missing");
  EXPECT_EQ(refusal(trigger, "missing"), api::NOT_FOUND);
  trigger = definition("t1");
  trigger.mutable_nats()->set_stream("NOPE");
  EXPECT_EQ(refusal(trigger, "stream NOPE does not exist"), api::INVALID_ARGUMENT);
  trigger = definition("t1");
  trigger.mutable_nats()->set_subject("payments.new");
  EXPECT_EQ(refusal(trigger, "sprout-t1"), api::INVALID_ARGUMENT) << "not a subject of the stream";
  trigger = definition("t1");
  trigger.mutable_nats()->set_batch_size(101);
  EXPECT_EQ(refusal(trigger, "batch size"), api::INVALID_ARGUMENT);
  EXPECT_EQ(refusal(definition("taken"), "exists"), api::INVALID_ARGUMENT);
  trigger = definition("t1");
  trigger.mutable_nats()->set_url("nats://127.0.0.1:" + std::to_string(closed_port()));
  EXPECT_EQ(refusal(trigger, "connect to"), api::UNAVAILABLE);

  const std::vector<api::Trigger> listed = triggers->list("");
  ASSERT_EQ(listed.size(), 1U) << "nothing refused was kept";
  EXPECT_FALSE(client_->consumer("ORDERS", "sprout-t1").exists);
}

TEST_F(NatsTriggerTest, StopIsPromptIdleInFlightOrConnecting) {
  NatsTriggerTiming timing;  // the defaults sproutd runs with
  timing.reconnect_min = milliseconds(50);
  FakeInvoker invoker;
  invoker.set_script([](const testing::SeenCall&) { return std::nullopt; });
  auto triggers = open(invoker, timing);
  ASSERT_TRUE(triggers);
  triggers->start();
  ASSERT_TRUE(triggers->add(definition("idle")));
  ASSERT_TRUE(eventually([&] { return triggers->list("")[0].state() == "active"; }));
  EXPECT_LT(time_of([&] { triggers->stop(); }), milliseconds(2000)) << "idle";

  triggers->start();
  client_->publish("orders.new", "held");
  ASSERT_TRUE(eventually([&] { return invoker.held() == 1; }));
  EXPECT_LT(time_of([&] { triggers->stop(); }), milliseconds(2000)) << "a batch in flight";

  triggers->start();
  server_->kill();
  ASSERT_TRUE(eventually([&] { return triggers->list("")[0].state().starts_with("connecting: "); }))
      << triggers->list("")[0].state();
  EXPECT_LT(time_of([&] { triggers->stop(); }), milliseconds(2000)) << "connecting";
  EXPECT_EQ(triggers->list("")[0].state(), "stopped");
}

TEST_F(NatsTriggerTest, ReconnectsWhenTheBrokerComesBack) {
  FakeInvoker invoker;
  auto triggers = open(invoker);
  ASSERT_TRUE(triggers);
  triggers->start();
  ASSERT_TRUE(triggers->add(definition("t1")));
  client_->publish("orders.new", "before");
  ASSERT_TRUE(eventually([&] { return invoker.records().size() == 1; }));
  ASSERT_TRUE(eventually([&] { return settled("t1"); }));

  client_.reset();
  server_->kill();
  ASSERT_TRUE(eventually([&] { return triggers->list("")[0].state().starts_with("connecting: "); }));
  server_->start();
  ASSERT_TRUE(server_->running());
  ASSERT_TRUE(eventually([&] { return triggers->list("")[0].state() == "active"; }))
      << triggers->list("")[0].state();
  client_ = std::make_unique<NatsClient>(server_->url());
  client_->publish("orders.new", "after");
  ASSERT_TRUE(eventually([&] { return invoker.records().size() == 2; }));
  EXPECT_EQ(invoker.records()[1].body, "after");
  EXPECT_EQ(invoker.records()[1].message_id, sqs_message_id("ORDERS", 2)) << "the stream survived";
}

}  // namespace
}  // namespace sprout::events
