// What the Lambda Invoke API answers for one of sproutd's api::Responses:
// a function's own outcome (OK, or a handler error, init error, timeout,
// crash...) is HTTP 200, with X-Amz-Function-Error: Unhandled and Lambda's
// {"errorMessage","errorType","stackTrace"} body when it failed; a refusal
// by sproutd is one of AWS's service errors (x-amzn-ErrorType + JSON body).
// The table of every api::Status is in docs/http.md. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"
#include "http/management/lambda_management.h"

namespace sprout::http {

// Lambda's log tail: the last 4 KB.
inline constexpr size_t kLogTailBytes = 4096;

struct InvokeAnswerOptions {
  bool tail_logs = false;            // X-Amz-Log-Type: Tail
  std::string executed_version;      // X-Amz-Executed-Version ("$LATEST", "3")
  uint32_t function_timeout_ms = 0;  // for "Task timed out after N.NN seconds"
};

// The answer to a RequestResponse invocation.
HttpAnswer invoke_answer(const api::Response& response, const InvokeAnswerOptions& options);

// An AWS service error for a sproutd status that is not a function's own
// outcome (NOT_FOUND, THROTTLED, PAYLOAD_TOO_LARGE, INVALID_ARGUMENT,
// UNAVAILABLE, INTERNAL, ...).
HttpAnswer service_error(api::Status status, std::string_view message);

// Whether `status` is the function's own outcome (answered 200).
bool is_function_outcome(api::Status status);

// The last kLogTailBytes of `logs`, starting on a UTF-8 character.
std::string log_tail(std::string_view logs);

// "Task timed out after 3.00 seconds".
std::string timeout_message(uint32_t timeout_ms);

}  // namespace sprout::http
