// Lambda's on-failure destination record, parsed back: the fields a
// destination handler reads.
#include "events/async/destination_record.h"

#include <gtest/gtest.h>

#include "http/json.h"

namespace sprout::events::async {
namespace {

std::string text(const http::JsonValue& value, std::initializer_list<const char*> path) {
  const http::JsonValue* at = &value;
  for (const char* key : path) {
    at = at->find(key);
    if (!at) return "<missing>";
  }
  return at->is_string() ? at->as_string() : at->dump();
}

TEST(DestinationRecord, FunctionErrorAfterRetries) {
  api::InvokeResponse response;
  response.set_status(api::FUNCTION_ERROR);
  response.set_error_type("ValueError");
  response.set_error_message("bad order");
  response.add_stack_trace("  File \"handler.py\", line 3");
  response.set_function_version(4);
  const FailedEvent failed{.request_id = "e4b46cbf-b738-4880-a18c-df61200e0000",
                           .function = "orders",
                           .payload = R"({"order": [1, 2.50]})",
                           .condition = "RetriesExhausted",
                           .invoke_count = 3,
                           .failed_unix_ms = 1573755365568,
                           .last_response = response};
  const std::string record = destination_record(failed);
  std::string error;
  auto json = http::parse_json(record, &error);
  ASSERT_TRUE(json) << error << "\n" << record;
  EXPECT_EQ(text(*json, {"version"}), "1.0");
  EXPECT_EQ(text(*json, {"timestamp"}), "2019-11-14T18:16:05.568Z");
  EXPECT_EQ(text(*json, {"requestContext", "requestId"}), failed.request_id);
  EXPECT_EQ(text(*json, {"requestContext", "functionArn"}),
            "arn:aws:lambda:us-east-1:000000000000:function:orders:$LATEST");
  EXPECT_EQ(text(*json, {"requestContext", "condition"}), "RetriesExhausted");
  EXPECT_EQ(text(*json, {"requestContext", "approximateInvokeCount"}), "3");
  EXPECT_EQ(text(*json, {"requestPayload"}), R"({"order":[1,2.50]})")
      << "the original JSON, numbers as written";
  EXPECT_EQ(text(*json, {"responseContext", "statusCode"}), "200");
  EXPECT_EQ(text(*json, {"responseContext", "executedVersion"}), "4");
  EXPECT_EQ(text(*json, {"responseContext", "functionError"}), "Unhandled");
  EXPECT_EQ(text(*json, {"responsePayload", "errorType"}), "ValueError");
  EXPECT_EQ(text(*json, {"responsePayload", "errorMessage"}), "bad order");
  EXPECT_EQ(text(*json, {"responsePayload", "stackTrace"}),
            R"(["  File \"handler.py\", line 3"])");
}

TEST(DestinationRecord, NonJsonPayloadIsAStringAndUnrunEventHasNoResponse) {
  const FailedEvent failed{.request_id = "id",
                           .function = "f",
                           .payload = "not \"json\"",
                           .condition = "EventAgeExceeded",
                           .invoke_count = 0,
                           .failed_unix_ms = 0,
                           .last_response = std::nullopt};
  auto json = http::parse_json(destination_record(failed));
  ASSERT_TRUE(json);
  ASSERT_TRUE(json->find("requestPayload")->is_string());
  EXPECT_EQ(json->find("requestPayload")->as_string(), "not \"json\"");
  EXPECT_EQ(text(*json, {"requestContext", "condition"}), "EventAgeExceeded");
  EXPECT_EQ(json->find("responseContext"), nullptr);
  EXPECT_EQ(json->find("responsePayload"), nullptr);
  EXPECT_EQ(text(*json, {"timestamp"}), "1970-01-01T00:00:00.000Z");
}

TEST(DestinationRecord, ThrottledEventHasNoFunctionError) {
  api::InvokeResponse response;
  response.set_status(api::THROTTLED);
  response.set_detail("concurrency limit reached");
  const FailedEvent failed{.request_id = "id",
                           .function = "f",
                           .payload = "{}",
                           .condition = "EventAgeExceeded",
                           .invoke_count = 0,
                           .failed_unix_ms = 0,
                           .last_response = response};
  auto json = http::parse_json(destination_record(failed));
  ASSERT_TRUE(json);
  EXPECT_EQ(text(*json, {"responseContext", "statusCode"}), "429");
  EXPECT_EQ(text(*json, {"responseContext", "functionError"}), "<missing>");
  EXPECT_EQ(text(*json, {"responseContext", "executedVersion"}), "$LATEST");
  EXPECT_EQ(text(*json, {"responsePayload", "errorMessage"}), "concurrency limit reached");
}

TEST(DestinationRecord, StaysWithinTheAsyncPayloadLimit) {
  // A failed record of a record (or a huge error) must not outgrow the limit:
  // the payloads become strings with a note.
  FailedEvent failed{.request_id = "id-1",
                     .function = "f",
                     .payload = R"({"big": ")" + std::string(250 * 1024, 'p') + R"("})",
                     .condition = "RetriesExhausted",
                     .invoke_count = 3,
                     .failed_unix_ms = 0};
  api::InvokeResponse response;
  response.set_status(api::FUNCTION_ERROR);
  response.set_error_type("Boom");
  response.set_error_message(std::string(6 * 1024 * 1024, '\x01'));  // escapes 6x
  failed.last_response = response;
  const std::string record = destination_record(failed);
  EXPECT_LE(record.size(), kMaxDestinationRecordBytes);
  std::string error;
  auto parsed = http::parse_json(record, &error);
  ASSERT_TRUE(parsed) << error;
  const std::string response_text = parsed->find("responsePayload")->as_string();
  EXPECT_NE(response_text.find("[truncated: "), std::string::npos);
  EXPECT_EQ(response_text.rfind(R"({"errorType":"Boom")", 0), 0u) << response_text.substr(0, 40);
  const std::string request_text = parsed->find("requestPayload")->as_string();
  EXPECT_NE(request_text.find("[truncated: "), std::string::npos);
  EXPECT_EQ(parsed->find("requestContext")->find("requestId")->as_string(), "id-1");
}

TEST(DestinationRecord, ASmallErrorLeavesTheRequestRoom) {
  FailedEvent failed{.request_id = "id-2",
                     .function = "f",
                     .payload = std::string(300 * 1024, 'q'),  // not JSON: a string
                     .condition = "RetriesExhausted",
                     .invoke_count = 1,
                     .failed_unix_ms = 0};
  api::InvokeResponse response;
  response.set_status(api::FUNCTION_ERROR);
  response.set_error_message("bad");
  failed.last_response = response;
  const std::string record = destination_record(failed);
  EXPECT_LE(record.size(), kMaxDestinationRecordBytes);
  EXPECT_GT(record.size(), kMaxDestinationRecordBytes - 1024) << "the request used the room";
  auto parsed = http::parse_json(record);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->find("responsePayload")->find("errorMessage")->as_string(), "bad")
      << "a response that fits is kept as JSON";
}

}  // namespace
}  // namespace sprout::events::async
