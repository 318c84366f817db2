#include "events/async/destination_record.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

#include "events/async/bounded_response.h"
#include "http/json.h"

namespace sprout::events::async {
namespace {

bool ran_the_function(api::Status status) {
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

// The HTTP status Lambda's Invoke would have answered the attempt with.
int http_status(api::Status status) {
  if (ran_the_function(status)) return 200;
  switch (status) {
    case api::THROTTLED:
      return 429;
    case api::NOT_FOUND:
      return 404;
    case api::INVALID_ARGUMENT:
      return 400;
    case api::PAYLOAD_TOO_LARGE:
      return 413;
    case api::UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

// The error type Lambda reports for a failure that is not the handler's own
// error (as sproutd's HTTP front door names them).
std::string error_type(const api::InvokeResponse& response) {
  if (!response.error_type().empty()) return response.error_type();
  switch (response.status()) {
    case api::FUNCTION_ERROR:
    case api::INIT_ERROR:
      return "Runtime.Unknown";
    case api::TIMEOUT:
      return "Sandbox.Timedout";
    case api::OUT_OF_MEMORY:
      return "Runtime.OutOfMemory";
    case api::CRASHED:
    case api::SECCOMP_VIOLATION:
      return "Runtime.ExitError";
    case api::THROTTLED:
      return "TooManyRequestsException";
    case api::NOT_FOUND:
      return "ResourceNotFoundException";
    case api::INVALID_ARGUMENT:
      return "InvalidParameterValueException";
    case api::PAYLOAD_TOO_LARGE:
      return "RequestTooLargeException";
    default:
      return "ServiceException";
  }
}

std::string response_payload(const api::InvokeResponse& response) {
  const std::string& message =
      response.error_message().empty() ? response.detail() : response.error_message();
  http::JsonObjectWriter payload;
  payload.string("errorType", error_type(response)).string("errorMessage", message);
  if (response.stack_trace_size() > 0) {
    payload.raw("stackTrace", http::json_string_array(std::vector<std::string>(
                                  response.stack_trace().begin(), response.stack_trace().end())));
  }
  return payload.str();
}

// `json` as it fits in `max_bytes` of the record: itself, or a JSON string of
// its first bytes and a note saying so (never more than max_bytes when
// max_bytes leaves room for the note; else the bare note).
std::string fitted(const std::string& json, size_t max_bytes) {
  if (json.size() <= max_bytes) return json;
  const std::string note = " ... [truncated: ";
  size_t keep = max_bytes;
  while (true) {
    const std::string_view kept = utf8_prefix(json, keep);
    std::string quoted = http::json_quote(std::string(kept) + note + std::to_string(kept.size()) +
                                          " of " + std::to_string(json.size()) + " bytes]");
    // Escapes make the quoted text longer than what it quotes: shrink the
    // kept part by the excess until it fits (each round cuts at least that).
    if (quoted.size() <= max_bytes || kept.empty()) return quoted;
    const size_t excess = quoted.size() - max_bytes;
    keep = kept.size() > excess ? kept.size() - excess : 0;
  }
}

}  // namespace

std::string iso8601_utc_ms(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char text[64];  // room for any int fields, so no truncation is possible
  snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
           utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
           static_cast<int>(unix_ms % 1000));
  return text;
}

std::string destination_record(const FailedEvent& event) {
  http::JsonObjectWriter context;
  context.string("requestId", event.request_id)
      .string("functionArn", std::string(kFunctionArnPrefix) + event.function + ":$LATEST")
      .string("condition", event.condition)
      .integer("approximateInvokeCount", event.invoke_count);

  // The original event as JSON when it is JSON (the destination's handler
  // reads record["requestPayload"]["key"]), else as a string.
  const std::optional<http::JsonValue> parsed = http::parse_json(event.payload);
  std::string request_payload = parsed ? parsed->dump() : http::json_quote(event.payload);
  std::string response_json;
  std::string response_context_json;
  if (event.last_response) {
    const api::InvokeResponse& response = *event.last_response;
    http::JsonObjectWriter response_context;
    response_context.integer("statusCode", http_status(response.status()))
        .string("executedVersion", response.function_version() > 0
                                       ? std::to_string(response.function_version())
                                       : std::string("$LATEST"));
    if (ran_the_function(response.status()) && response.status() != api::OK)
      response_context.string("functionError", "Unhandled");
    response_context_json = response_context.str();
    response_json = response_payload(response);
  }

  const auto build = [&](const std::string& request, const std::string& response) {
    http::JsonObjectWriter record;
    record.string("version", "1.0")
        .string("timestamp", iso8601_utc_ms(event.failed_unix_ms))
        .raw("requestContext", context.str())
        .raw("requestPayload", request);
    if (event.last_response)
      record.raw("responseContext", response_context_json).raw("responsePayload", response);
    return record.str();
  };
  std::string record = build(request_payload, response_json);
  if (record.size() <= kMaxDestinationRecordBytes) return record;

  // Too big: the payloads share what the rest of the record leaves. The
  // response gets at least half of it (the error is why the record exists),
  // more when the request needs less; the request gets what remains.
  const size_t skeleton = build("", "").size();  // only measured, never sent
  const size_t room =
      kMaxDestinationRecordBytes > skeleton ? kMaxDestinationRecordBytes - skeleton : 0;
  if (event.last_response) {
    const size_t response_room =
        std::max(room / 2, room > request_payload.size() ? room - request_payload.size() : 0);
    response_json = fitted(response_json, response_room);
  }
  const size_t request_room = room > response_json.size() ? room - response_json.size() : 0;
  request_payload = fitted(request_payload, request_room);
  return build(request_payload, response_json);
}

}  // namespace sprout::events::async
