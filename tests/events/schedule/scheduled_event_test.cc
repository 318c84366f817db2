// The Scheduled Event payload: EventBridge's field names and values, read
// back with the JSON reader.
#include "events/schedule/scheduled_event.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "http/json.h"
#include "tests/events/schedule/time_test_support.h"

namespace sprout::events {
namespace {

using testing::utc;

TEST(ScheduledEventTest, HasEventBridgeShape) {
  const ScheduledEventOrigin origin{.region = "eu-central-1", .account = "123456789012"};
  const std::string text = scheduled_event_json(origin, "nightly", utc(2026, 3, 29, 1, 0, 0),
                                                "0d6a2a52-3c8e-4a3c-9a3e-1d2f3a4b5c6d");
  auto json = http::parse_json(text);
  ASSERT_TRUE(json) << text;
  auto field = [&](const char* key) {
    const http::JsonValue* value = json->find(key);
    return value && value->is_string() ? value->as_string() : std::string("<missing>");
  };
  EXPECT_EQ(field("version"), "0");
  EXPECT_EQ(field("id"), "0d6a2a52-3c8e-4a3c-9a3e-1d2f3a4b5c6d");
  EXPECT_EQ(field("detail-type"), "Scheduled Event");
  EXPECT_EQ(field("source"), "aws.events");
  EXPECT_EQ(field("account"), "123456789012");
  EXPECT_EQ(field("time"), "2026-03-29T01:00:00Z");
  EXPECT_EQ(field("region"), "eu-central-1");
  const http::JsonValue* resources = json->find("resources");
  ASSERT_TRUE(resources && resources->is_array());
  ASSERT_EQ(resources->items().size(), 1u);
  EXPECT_EQ(resources->items()[0].as_string(),
            "arn:aws:events:eu-central-1:123456789012:rule/nightly");
  const http::JsonValue* detail = json->find("detail");
  ASSERT_TRUE(detail && detail->is_object());
  EXPECT_TRUE(detail->members().empty());
}

TEST(ScheduledEventTest, DefaultsMatchTheHttpFrontDoor) {
  EXPECT_EQ(schedule_rule_arn(ScheduledEventOrigin{}, "x"),
            "arn:aws:events:us-east-1:000000000000:rule/x");
}

TEST(ScheduledEventTest, TimesAreIso8601UtcSeconds) {
  EXPECT_EQ(iso8601_utc(utc(2026, 1, 2, 3, 4, 5)), "2026-01-02T03:04:05Z");
  EXPECT_EQ(iso8601_utc(utc(2045, 12, 31, 23, 59, 59)), "2045-12-31T23:59:59Z");
  EXPECT_EQ(iso8601_utc(utc(1970, 1, 1)), "1970-01-01T00:00:00Z");
}

TEST(ScheduledEventTest, EventIdsAreVersion4Uuids) {
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = random_event_id();
    EXPECT_TRUE(std::regex_match(id, uuid)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace sprout::events
