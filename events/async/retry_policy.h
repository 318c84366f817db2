// What the async queue does after an attempt of an event ends, as pure
// functions of the attempt's status and the event's counters (no clock, no
// state), so that the rules are read and tested in one place.
//
// Lambda's rules for asynchronous invocation, followed here:
//  - A failure of the function (its error, timeout, memory limit, crash, a
//    failed init, a forbidden system call) is retried, at most
//    max_retry_attempts times (default 2): 1 minute before the first retry,
//    2 minutes before the second.
//  - A throttle (no concurrency to run it now) is not the function's fault:
//    it does not use up a retry; the event goes back to the queue with an
//    exponential backoff (1 s, 2 s, 4 s ... up to 5 min) until the event's
//    maximum age. sprout's own failures (INTERNAL, UNAVAILABLE) are treated
//    as Lambda treats its 5xx errors: the same as a throttle.
//  - A request that can never succeed (NOT_FOUND: the function is gone;
//    INVALID_ARGUMENT; PAYLOAD_TOO_LARGE) is not retried: it is
//    dead-lettered (or sent to the on-failure destination) at once.
//
// The delays scale with one number, `retry_base_delay_ms` (Lambda: 60 s):
// retry N waits N x base; throttle backoff starts at base / 60 and stops at
// 5 x base. Tests and sproutd's config make it short.
#pragma once

#include <cstdint>

#include "api/proto/sprout_api.pb.h"

namespace sprout::events::async {

enum class FailureKind {
  kSuccess,          // OK: the event is done
  kFunctionFailure,  // retried; counts against max_retry_attempts
  kThrottle,         // retried with backoff; counts only against the age limit
  kPermanent,        // never retried
};

FailureKind classify(api::Status status);

// Lambda's defaults for a function whose AsyncConfig leaves them unset.
inline constexpr uint32_t kDefaultMaxRetryAttempts = 2;
inline constexpr uint32_t kDefaultMaxEventAgeS = 21600;  // 6 hours

// The retries allowed after the first attempt (AsyncConfig's, or 2).
uint32_t max_retry_attempts(const api::AsyncConfig& config);
// The oldest an event may be and still be tried, in ms (0 in the config: 6 h).
int64_t max_event_age_ms(const api::AsyncConfig& config);

// Delay before retry number `retry` (1 = the second attempt) after a
// function failure: retry x base.
int64_t retry_delay_ms(uint32_t retry, int64_t retry_base_delay_ms);

// Delay after the `throttles`-th throttle in a row (1, 2, ...): base/60,
// doubling each time, capped at 5 x base (Lambda: 1 s .. 5 min). Never below
// 1 ms, so that a throttled event never spins.
int64_t throttle_delay_ms(uint32_t throttles, int64_t retry_base_delay_ms);

// Where an event stands before its attempt's answer is applied.
struct EventProgress {
  uint32_t attempts = 0;   // attempts counted against the retries so far
  uint32_t throttles = 0;  // throttles in a row since the last counted attempt
  int64_t enqueued_unix_ms = 0;
};

inline constexpr const char* kRetriesExhausted = "RetriesExhausted";
inline constexpr const char* kEventAgeExceeded = "EventAgeExceeded";

// What to do with an event after an attempt answered `status` at `now_ms`.
struct NextStep {
  enum Kind {
    kDone,    // succeeded: forget the event, keep its result
    kRetry,   // try again at next_attempt_unix_ms
    kFailed,  // give up: dead letter or on-failure destination, for `reason`
  };
  Kind kind = kDone;
  EventProgress progress;          // the counters to store
  int64_t next_attempt_unix_ms = 0;  // kRetry
  const char* reason = "";         // kFailed: kRetriesExhausted or kEventAgeExceeded
};

// A permanent failure gives up at once as RetriesExhausted (there is no
// retry it could use). A retry that would start past the event's maximum age
// gives up now as EventAgeExceeded rather than waiting to be refused.
NextStep next_step(const EventProgress& progress, api::Status status,
                   const api::AsyncConfig& config, int64_t now_ms, int64_t retry_base_delay_ms);

// Whether an event enqueued at `enqueued_unix_ms` is too old to be tried at
// `now_ms` (then it is failed as EventAgeExceeded without a run).
bool too_old(int64_t enqueued_unix_ms, const api::AsyncConfig& config, int64_t now_ms);

}  // namespace sprout::events::async
