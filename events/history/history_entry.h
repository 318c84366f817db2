// What one invocation leaves in the history: an api::HistoryEntry built from
// the invocation's answer, with its large fields cut to fixed sizes so that a
// function returning megabytes cannot make the history (in memory or on disk)
// grow with it. Pure functions, no I/O: sproutd calls them on the invocation
// path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"
#include "events/utf8_cut.h"

namespace sprout::events {

// What the history keeps of each large field (api/proto: HistoryEntry).
inline constexpr size_t kHistoryResultBytes = 1024;
inline constexpr size_t kHistoryErrorBytes = 1024;
inline constexpr size_t kHistoryLogTailBytes = 4096;
// The error type is a tenant's exception class name: its length is theirs to
// choose. Ids are sprout's or a trigger's, but are capped all the same.
inline constexpr size_t kHistoryErrorTypeBytes = 256;
inline constexpr size_t kHistoryIdBytes = 256;


// Cuts result, error type, error message, request id and source id to their
// prefixes and the log tail to its suffix, setting `truncated` when anything
// was cut. Idempotent.
void truncate_history_entry(api::HistoryEntry& entry);

struct InvocationOrigin {
  api::InvocationSource source = api::API;
  std::string source_id;  // the schedule's or trigger's id, else empty
  uint32_t attempt = 1;   // 1 for the first try of an event
  int64_t start_unix_ms = 0;
};

// The history entry of an invocation that answered `response`: the error
// message is the function's own (error_message) or, when it has none (a
// TIMEOUT, a crash, a throttle), sprout's one-line `detail`; the error type
// and ids are cut to the sizes above (the stack trace is not kept); the result is
// kept only for OK; the log tail is the response's logs. Already truncated
// (only the kept bytes are copied); `truncated` is also set when the
// response's logs were themselves a cut tail.
api::HistoryEntry history_entry_of(const api::InvokeResponse& response,
                                   const InvocationOrigin& origin);

}  // namespace sprout::events
