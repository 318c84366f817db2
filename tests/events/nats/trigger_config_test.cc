// What a NATS trigger definition may say, and its defaults.
#include "events/nats/trigger_config.h"

#include <gtest/gtest.h>

#include <functional>

namespace sprout::events {
namespace {

api::Trigger valid() {
  api::Trigger trigger;
  trigger.set_id("orders-1");
  trigger.set_function("fn");
  trigger.mutable_nats()->set_url("nats://127.0.0.1:4333");
  trigger.mutable_nats()->set_stream("ORDERS");
  trigger.mutable_nats()->set_subject("orders.*.new");
  return trigger;
}

TEST(TriggerConfigTest, FillsTheDefaults) {
  Result<api::Trigger> normalized = normalize_nats_trigger(valid());
  ASSERT_TRUE(normalized) << normalized.error().message();
  EXPECT_EQ(normalized->nats().batch_size(), 10U);
  EXPECT_EQ(normalized->nats().batch_window_ms(), 0U);
  EXPECT_EQ(normalized->nats().max_deliveries(), 5U);
  EXPECT_EQ(normalized->nats().dead_letter_subject(), "sprout.dlq.fn");
  EXPECT_EQ(normalized->nats().durable_name(), "sprout-orders-1");
}

TEST(TriggerConfigTest, AcceptsTheLimits) {
  for (const char* url : {"nats://localhost", "nats://a.example.com:4222", "nats://[::1]:4222/"}) {
    api::Trigger trigger = valid();
    trigger.mutable_nats()->set_url(url);
    trigger.mutable_nats()->set_batch_size(100);
    trigger.mutable_nats()->set_batch_window_ms(300000);
    trigger.mutable_nats()->set_max_deliveries(1);
    trigger.mutable_nats()->set_subject("orders.>");
    EXPECT_TRUE(normalize_nats_trigger(trigger)) << url;
  }
}

TEST(TriggerConfigTest, RefusesWhatIsWrongAndSaysWhich) {
  const std::vector<std::pair<std::function<void(api::Trigger&)>, std::string>> cases = {
      {[](api::Trigger& t) { t.set_id("bad id"); }, "id"},
      {[](api::Trigger& t) { t.set_id(std::string(65, 'a')); }, "id"},
      {[](api::Trigger& t) { t.mutable_nats()->set_url("http://127.0.0.1:4222"); }, "url"},
      {[](api::Trigger& t) { t.mutable_nats()->set_url("nats://user:pw@host:4222"); }, "url"},
      {[](api::Trigger& t) { t.mutable_nats()->set_url("nats://host:70000"); }, "url"},
      {[](api::Trigger& t) { t.mutable_nats()->set_url("nats://:4222"); }, "url"},
      {[](api::Trigger& t) { t.mutable_nats()->set_stream(""); }, "stream"},
      {[](api::Trigger& t) { t.mutable_nats()->set_stream("a.b"); }, "stream"},
      {[](api::Trigger& t) { t.mutable_nats()->set_stream("a b"); }, "stream"},
      {[](api::Trigger& t) { t.mutable_nats()->set_subject(""); }, "subject"},
      {[](api::Trigger& t) { t.mutable_nats()->set_subject("a..b"); }, "subject"},
      {[](api::Trigger& t) { t.mutable_nats()->set_subject("a.>.b"); }, "subject"},
      {[](api::Trigger& t) { t.mutable_nats()->set_subject("a.b*"); }, "subject"},
      {[](api::Trigger& t) { t.mutable_nats()->set_batch_size(101); }, "batch size"},
      {[](api::Trigger& t) { t.mutable_nats()->set_batch_window_ms(300001); }, "batch window"},
      {[](api::Trigger& t) { t.mutable_nats()->set_max_deliveries(1001); }, "max deliveries"},
      {[](api::Trigger& t) { t.mutable_nats()->set_dead_letter_subject("dlq.*"); }, "dead-letter"},
      {[](api::Trigger& t) { t.mutable_nats()->set_dead_letter_subject("orders.x.new"); },
       "would come back"},
      {[](api::Trigger& t) { t.clear_nats(); t.mutable_file()->set_watch_dir("/tmp"); },
       "not a NATS trigger"},
  };
  for (const auto& [change, word] : cases) {
    api::Trigger trigger = valid();
    change(trigger);
    Result<api::Trigger> normalized = normalize_nats_trigger(trigger);
    ASSERT_FALSE(normalized) << trigger.ShortDebugString();
    EXPECT_NE(normalized.error().message().find(word), std::string::npos)
        << normalized.error().message();
  }
}

TEST(TriggerConfigTest, SubjectsMatchByNatsTokenRules) {
  EXPECT_TRUE(subject_matches("a.b", "a.b"));
  EXPECT_TRUE(subject_matches("a.*", "a.b"));
  EXPECT_FALSE(subject_matches("a.*", "a.b.c"));
  EXPECT_TRUE(subject_matches("a.>", "a.b.c"));
  EXPECT_FALSE(subject_matches("a.>", "a"));
  EXPECT_TRUE(subject_matches(">", "sprout.dlq.fn"));
  EXPECT_FALSE(subject_matches("a.b", "a.bc"));
  EXPECT_FALSE(subject_matches("*.b", "a.c"));
}

}  // namespace
}  // namespace sprout::events
