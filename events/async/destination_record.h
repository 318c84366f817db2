// Lambda's invocation record for an on-failure destination: the payload a
// function configured as another's `on_failure` receives for each event
// that exhausted its retries or its maximum age. Its shape, as Lambda sends
// it to a destination function:
//
//   {"version": "1.0",
//    "timestamp": "2019-11-14T18:16:05.568Z",
//    "requestContext": {"requestId": "e4b46cbf-...",
//                       "functionArn": "arn:aws:lambda:...:function:NAME:$LATEST",
//                       "condition": "RetriesExhausted" | "EventAgeExceeded",
//                       "approximateInvokeCount": 3},
//    "requestPayload": <the event's payload: its JSON, or a string when it
//                       is not JSON>,
//    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
//                        "functionError": "Unhandled"},
//    "responsePayload": {"errorType": "...", "errorMessage": "...",
//                        "stackTrace": [...]}}
//
// responseContext and responsePayload are present only when the event was
// tried at least once (an event that aged out unrun has no response).
//
// The record is itself an async event, so it stays within the async payload
// limit (kMaxDestinationRecordBytes): when the payloads would not fit,
// responsePayload and then requestPayload become JSON strings holding their
// JSON's first bytes and a note "... [truncated: N of M bytes]".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "api/proto/sprout_api.pb.h"

namespace sprout::events::async {

// The ARN sprout gives every function (as its HTTP front door does).
inline constexpr size_t kMaxDestinationRecordBytes = 256 * 1024;

inline constexpr const char* kFunctionArnPrefix = "arn:aws:lambda:us-east-1:000000000000:function:";

struct FailedEvent {
  std::string request_id;
  std::string function;
  std::string payload;
  std::string condition;  // "RetriesExhausted" or "EventAgeExceeded"
  uint32_t invoke_count = 0;  // attempts that reached sproutd's invoker
  int64_t failed_unix_ms = 0;
  // The last attempt's answer; nullopt when it never ran.
  std::optional<api::InvokeResponse> last_response;
};

std::string destination_record(const FailedEvent& event);

// "2019-11-14T18:16:05.568Z"
std::string iso8601_utc_ms(int64_t unix_ms);

}  // namespace sprout::events::async
