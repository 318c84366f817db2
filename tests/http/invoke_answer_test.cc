// http/invoke_answer: every api::Status of an invocation as Lambda's Invoke
// API answers it.
#include "http/invoke_answer.h"

#include <gtest/gtest.h>

#include "http/encoding.h"
#include "http/json.h"

namespace sprout::http {
namespace {

std::string header(const HttpAnswer& answer, const std::string& name) {
  for (const auto& [field, value] : answer.headers)
    if (field == name) return value;
  return "<absent>";
}

api::Response ran(api::Status status) {
  api::Response response;
  response.set_status(status);
  auto* invoke = response.mutable_invoke();
  invoke->set_status(status);
  invoke->set_request_id("req-1");
  invoke->set_logs("START\nhello from the handler\nEND\n");
  return response;
}

TEST(InvokeAnswer, SuccessWithTheLogTail) {
  auto response = ran(api::OK);
  response.mutable_invoke()->set_result(R"({"ok": true})");
  auto answer = invoke_answer(response, {.tail_logs = true, .executed_version = "$LATEST"});
  EXPECT_EQ(answer.status, 200u);
  EXPECT_EQ(answer.body, R"({"ok": true})");
  EXPECT_EQ(header(answer, "X-Amz-Executed-Version"), "$LATEST");
  EXPECT_EQ(header(answer, "X-Amz-Function-Error"), "<absent>");
  EXPECT_EQ(base64_decode(header(answer, "X-Amz-Log-Result")).value_or(""),
            "START\nhello from the handler\nEND\n");
  auto quiet = invoke_answer(response, {.executed_version = "3"});
  EXPECT_EQ(header(quiet, "X-Amz-Log-Result"), "<absent>");
  EXPECT_EQ(header(quiet, "X-Amz-Executed-Version"), "3");
}

TEST(InvokeAnswer, FunctionFailuresAre200Unhandled) {
  auto failed = ran(api::FUNCTION_ERROR);
  failed.mutable_invoke()->set_error_type("ValueError");
  failed.mutable_invoke()->set_error_message("bad input");
  failed.mutable_invoke()->add_stack_trace("  File \"h.py\", line 2");
  auto answer = invoke_answer(failed, {.executed_version = "$LATEST"});
  EXPECT_EQ(answer.status, 200u);
  EXPECT_EQ(header(answer, "X-Amz-Function-Error"), "Unhandled");
  auto body = parse_json(answer.body);
  ASSERT_TRUE(body && body->is_object()) << answer.body;
  EXPECT_EQ(body->find("errorType")->as_string(), "ValueError");
  EXPECT_EQ(body->find("errorMessage")->as_string(), "bad input");
  ASSERT_EQ(body->find("stackTrace")->items().size(), 1u);

  auto timeout = invoke_answer(ran(api::TIMEOUT), {.function_timeout_ms = 1500});
  EXPECT_EQ(timeout.status, 200u);
  EXPECT_EQ(header(timeout, "X-Amz-Function-Error"), "Unhandled");
  auto timeout_body = parse_json(timeout.body);
  ASSERT_TRUE(timeout_body.has_value()) << timeout.body;
  EXPECT_NE(timeout_body->find("errorMessage")->as_string().find(
                "Task timed out after 1.50 seconds"),
            std::string::npos)
      << timeout.body;
  EXPECT_TRUE(timeout_body->find("stackTrace")->is_array());

  for (api::Status status :
       {api::INIT_ERROR, api::OUT_OF_MEMORY, api::SECCOMP_VIOLATION, api::CRASHED}) {
    auto answer_for = invoke_answer(ran(status), {});
    EXPECT_EQ(answer_for.status, 200u) << api::Status_Name(status);
    EXPECT_EQ(header(answer_for, "X-Amz-Function-Error"), "Unhandled") << api::Status_Name(status);
    auto parsed = parse_json(answer_for.body);
    ASSERT_TRUE(parsed.has_value()) << answer_for.body;
    EXPECT_FALSE(parsed->find("errorType")->as_string().empty());
  }
}

TEST(InvokeAnswer, EveryRefusalIsAnAwsServiceError) {
  struct Case {
    api::Status status;
    unsigned http;
    const char* type;
  };
  for (const Case& c : std::initializer_list<Case>{
           {api::NOT_FOUND, 404, "ResourceNotFoundException"},
           {api::THROTTLED, 429, "TooManyRequestsException"},
           {api::PAYLOAD_TOO_LARGE, 413, "RequestTooLargeException"},
           {api::INVALID_ARGUMENT, 400, "InvalidParameterValueException"},
           {api::UNAVAILABLE, 503, "ServiceException"},
           {api::INTERNAL, 500, "ServiceException"},
           {api::STATUS_UNSPECIFIED, 500, "ServiceException"}}) {
    api::Response refused;
    refused.set_status(c.status);
    refused.set_error("why");
    auto answer = invoke_answer(refused, {});
    EXPECT_EQ(answer.status, c.http) << api::Status_Name(c.status);
    EXPECT_EQ(header(answer, "x-amzn-ErrorType"), c.type) << api::Status_Name(c.status);
    EXPECT_FALSE(is_function_outcome(c.status));
  }
  // An invocation that sproutd itself failed after admission.
  auto internal = ran(api::INTERNAL);
  internal.mutable_invoke()->set_detail("cancelled");
  EXPECT_EQ(invoke_answer(internal, {}).status, 500u);
}

TEST(InvokeAnswer, LogTailIsTheLast4KbOnACharacter) {
  std::string logs(5000, 'a');
  logs += "\xc3\xa9";  // é
  logs += std::string(4095, 'b');
  // The last 4096 bytes start inside é: the tail starts after it.
  const std::string tail = log_tail(logs);
  EXPECT_EQ(tail, std::string(4095, 'b'));
  EXPECT_EQ(log_tail("short"), "short");
  EXPECT_EQ(log_tail(std::string(10000, 'x')).size(), kLogTailBytes);
  EXPECT_EQ(timeout_message(3000), "Task timed out after 3.00 seconds");
}

}  // namespace
}  // namespace sprout::http
