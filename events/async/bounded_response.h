// What the async queue stores of an invocation's answer: the queue keeps
// answers on disk (each queued event's last answer, up to `kept_results`
// final answers, each dead letter's error) long after the invocation, and an
// answer may be 6 MiB of result and megabytes of error text a tenant chose.
// These cut them to fixed sizes so that the queue's disk use is bounded by
// its counts, never by what functions return.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"
#include "events/utf8_cut.h"

namespace sprout::events::async {

// What a stored answer keeps at most (the async queue's bounds).
inline constexpr size_t kStoredResultBytes = 256 * 1024;
inline constexpr size_t kStoredLogTailBytes = 4 * 1024;
inline constexpr size_t kStoredErrorTypeBytes = 256;
inline constexpr size_t kStoredErrorBytes = 1024;     // error message, detail, last_error
inline constexpr size_t kStoredStackFrames = 64;
inline constexpr size_t kStoredStackFrameBytes = 1024;


// `response` with its large fields cut: the result to its first
// kStoredResultBytes (the cut said in `detail`), the logs to their last
// kStoredLogTailBytes (`logs_truncated` set), error type, message, detail
// and the stack trace to the sizes above. Smaller answers come back equal.
api::InvokeResponse bounded_response(const api::InvokeResponse& response);

// The one-line error a dead letter and a queued event's row keep: "Type:
// message", the message, or sprout's detail; at most kStoredErrorBytes.
std::string bounded_error_text(const api::InvokeResponse& response);

}  // namespace sprout::events::async
