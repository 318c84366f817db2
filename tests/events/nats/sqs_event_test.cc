// The SQS event a batch of JetStream messages becomes: Lambda's shape, read
// back as a handler reads it.
#include "events/nats/sqs_event.h"

#include <gtest/gtest.h>

#include <regex>

#include "http/json.h"

namespace sprout::events {
namespace {

QueueMessage message(uint64_t sequence, std::string data) {
  QueueMessage out;
  out.stream = "ORDERS";
  out.stream_sequence = sequence;
  out.subject = "orders.new";
  out.data = std::move(data);
  out.delivery_count = 2;
  out.receipt_handle = "$JS.ACK.ORDERS.sprout-t.2." + std::to_string(sequence) + ".7.1700.0";
  out.sent_unix_ms = 1700000000123;
  out.first_received_unix_ms = 1700000000456;
  return out;
}

const http::JsonValue& member(const http::JsonValue& object, std::string_view key) {
  const http::JsonValue* value = object.find(key);
  EXPECT_NE(value, nullptr) << key;
  static const http::JsonValue kNull;
  return value != nullptr ? *value : kNull;
}

TEST(SqsEventTest, HasLambdasShapeForEveryRecord) {
  QueueMessage first = message(7, "{\"order\": 1}");
  first.headers = {{.name = "trace", .values = {"abc"}}, {.name = "tags", .values = {"a", "b"}}};
  const std::string json = sqs_batch_event({first, message(8, "test")});
  std::string error;
  const std::optional<http::JsonValue> event = http::parse_json(json, &error);
  ASSERT_TRUE(event) << error;
  const http::JsonValue& records = member(*event, "Records");
  ASSERT_TRUE(records.is_array());
  ASSERT_EQ(records.items().size(), 2U);

  const http::JsonValue& record = records.items()[0];
  EXPECT_EQ(member(record, "messageId").as_string(), sqs_message_id("ORDERS", 7));
  EXPECT_EQ(member(record, "receiptHandle").as_string(), first.receipt_handle);
  EXPECT_EQ(member(record, "body").as_string(), "{\"order\": 1}");
  EXPECT_EQ(member(record, "md5OfBody").as_string(), md5_hex("{\"order\": 1}"));
  EXPECT_EQ(member(record, "eventSource").as_string(), "aws:sqs");
  EXPECT_EQ(member(record, "eventSourceARN").as_string(), "arn:aws:sqs:us-east-1:000000000000:ORDERS");
  EXPECT_EQ(member(record, "awsRegion").as_string(), "us-east-1");
  const http::JsonValue& attributes = member(record, "attributes");
  // SQS gives every attribute as a string.
  EXPECT_EQ(member(attributes, "ApproximateReceiveCount").as_string(), "2");
  EXPECT_EQ(member(attributes, "SentTimestamp").as_string(), "1700000000123");
  EXPECT_EQ(member(attributes, "SenderId").as_string(), "orders.new");
  EXPECT_EQ(member(attributes, "ApproximateFirstReceiveTimestamp").as_string(), "1700000000456");

  const http::JsonValue& message_attributes = member(record, "messageAttributes");
  const http::JsonValue& trace = member(message_attributes, "trace");
  EXPECT_EQ(member(trace, "stringValue").as_string(), "abc");
  EXPECT_EQ(member(trace, "dataType").as_string(), "String");
  EXPECT_TRUE(member(trace, "stringListValues").items().empty());
  EXPECT_TRUE(member(trace, "binaryListValues").is_array());
  const http::JsonValue& tags = member(message_attributes, "tags");
  EXPECT_EQ(member(tags, "stringValue").as_string(), "a");
  ASSERT_EQ(member(tags, "stringListValues").items().size(), 2U);
  EXPECT_EQ(member(tags, "stringListValues").items()[1].as_string(), "b");

  EXPECT_TRUE(member(records.items()[1], "messageAttributes").members().empty());
  EXPECT_EQ(member(records.items()[1], "md5OfBody").as_string(),
            "098f6bcd4621d373cade4e832627b4f6")  // MD5("test"), as SQS's example
      << "md5OfBody is the body's MD5";
}

TEST(SqsEventTest, MessageIdIsAStableUuidOfStreamAndSequence) {
  const std::string id = sqs_message_id("ORDERS", 42);
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  EXPECT_EQ(id, sqs_message_id("ORDERS", 42));
  EXPECT_NE(id, sqs_message_id("ORDERS", 43));
  EXPECT_NE(id, sqs_message_id("ORDERS2", 42));
}

TEST(SqsEventTest, BinaryBodyIsBase64AndMarked) {
  const std::string binary("\xff\x00\x01z", 4);
  const std::string json = sqs_batch_event({message(1, binary), message(2, "h\xc3\xa9llo")});
  const std::optional<http::JsonValue> event = http::parse_json(json);
  ASSERT_TRUE(event);
  const http::JsonValue& encoded = member(*event, "Records").items()[0];
  EXPECT_EQ(member(encoded, "body").as_string(), "/wABeg==");
  EXPECT_EQ(member(encoded, "md5OfBody").as_string(), md5_hex("/wABeg=="));
  EXPECT_EQ(member(member(member(encoded, "messageAttributes"), kBodyEncodingAttribute),
                   "stringValue")
                .as_string(),
            "base64");
  const http::JsonValue& text = member(*event, "Records").items()[1];
  EXPECT_EQ(member(text, "body").as_string(), "h\xc3\xa9llo") << "valid UTF-8 goes as it is";
  EXPECT_EQ(member(text, "messageAttributes").find(kBodyEncodingAttribute), nullptr);
}

TEST(SqsEventTest, EmptyBatchHasNoRecords) {
  EXPECT_EQ(sqs_batch_event({}), "{\"Records\":[]}");
}

}  // namespace
}  // namespace sprout::events
