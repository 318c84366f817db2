#include "http/invoke_answer.h"

#include <cstdio>
#include <vector>

#include "http/encoding.h"
#include "http/json.h"

namespace sprout::http {
namespace {

// Lambda's error body for a failed invocation.
std::string function_error_body(std::string_view type, std::string_view message,
                                const std::vector<std::string>& stack_trace,
                                std::string_view request_id) {
  JsonObjectWriter body;
  body.string("errorMessage", message).string("errorType", type);
  if (!request_id.empty()) body.string("requestId", request_id);
  body.raw("stackTrace", json_string_array(stack_trace));
  return body.str();
}

}  // namespace

bool is_function_outcome(api::Status status) {
  switch (status) {
    case api::OK:
    case api::FUNCTION_ERROR:
    case api::INIT_ERROR:
    case api::TIMEOUT:
    case api::OUT_OF_MEMORY:
    case api::SECCOMP_VIOLATION:
    case api::CRASHED:
      return true;
    default:
      return false;
  }
}

HttpAnswer service_error(api::Status status, std::string_view message) {
  switch (status) {
    case api::NOT_FOUND:
      return aws_error(404, "ResourceNotFoundException", message);
    case api::THROTTLED:
      return aws_error(429, "TooManyRequestsException", message);
    case api::PAYLOAD_TOO_LARGE:
      return aws_error(413, "RequestTooLargeException", message);
    case api::INVALID_ARGUMENT:
      return aws_error(400, "InvalidParameterValueException", message);
    case api::UNAVAILABLE:
      // Draining: the same type as INTERNAL, but a status that says "later".
      return aws_error(503, "ServiceException", message);
    default:  // INTERNAL, STATUS_UNSPECIFIED, and an outcome where none belongs
      return aws_error(500, "ServiceException", message);
  }
}

std::string log_tail(std::string_view logs) {
  if (logs.size() <= kLogTailBytes) return std::string(logs);
  size_t start = logs.size() - kLogTailBytes;
  // Skip continuation bytes: the tail must decode as UTF-8.
  while (start < logs.size() && (static_cast<unsigned char>(logs[start]) & 0xC0) == 0x80) ++start;
  return std::string(logs.substr(start));
}

std::string timeout_message(uint32_t timeout_ms) {
  char text[64];
  std::snprintf(text, sizeof text, "Task timed out after %.2f seconds", timeout_ms / 1000.0);
  return text;
}

HttpAnswer invoke_answer(const api::Response& response, const InvokeAnswerOptions& options) {
  const api::Status status = response.has_invoke() ? response.invoke().status() : response.status();
  if (!response.has_invoke() || !is_function_outcome(status)) {
    const std::string& message =
        response.error().empty() ? response.invoke().detail() : response.error();
    return service_error(status, message);
  }
  const api::InvokeResponse& invoke = response.invoke();
  HttpAnswer answer;
  answer.status = 200;
  answer.headers.emplace_back("X-Amz-Executed-Version", options.executed_version);
  if (options.tail_logs)
    answer.headers.emplace_back("X-Amz-Log-Result", base64_encode(log_tail(invoke.logs())));
  if (status == api::OK) {
    // The JSON-encoded return value, as the runtime wrote it.
    answer.body = invoke.result();
    return answer;
  }
  answer.headers.emplace_back("X-Amz-Function-Error", "Unhandled");
  const std::string& request_id = invoke.request_id();
  const std::string prefix = request_id.empty() ? "" : "RequestId: " + request_id + " Error: ";
  switch (status) {
    case api::FUNCTION_ERROR:
    case api::INIT_ERROR:
      answer.body = function_error_body(
          invoke.error_type().empty() ? "Runtime.Unknown" : invoke.error_type(),
          invoke.error_message().empty() ? invoke.detail() : invoke.error_message(),
          {invoke.stack_trace().begin(), invoke.stack_trace().end()}, request_id);
      break;
    case api::TIMEOUT:
      answer.body = function_error_body(
          "Sandbox.Timedout", prefix + timeout_message(options.function_timeout_ms), {},
          request_id);
      break;
    case api::OUT_OF_MEMORY:
      answer.body = function_error_body(
          "Runtime.OutOfMemory", prefix + "Runtime exited with error: " + invoke.detail(), {},
          request_id);
      break;
    default:  // CRASHED, SECCOMP_VIOLATION: the runtime did not answer
      answer.body = function_error_body(
          "Runtime.ExitError", prefix + "Runtime exited with error: " + invoke.detail(), {},
          request_id);
      break;
  }
  return answer;
}

}  // namespace sprout::http
