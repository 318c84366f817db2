#include "events/async/retry_policy.h"

#include <algorithm>

namespace sprout::events::async {

FailureKind classify(api::Status status) {
  switch (status) {
    case api::OK:
      return FailureKind::kSuccess;
    case api::FUNCTION_ERROR:
    case api::INIT_ERROR:
    case api::TIMEOUT:
    case api::OUT_OF_MEMORY:
    case api::SECCOMP_VIOLATION:
    case api::CRASHED:
      return FailureKind::kFunctionFailure;
    case api::THROTTLED:
    case api::INTERNAL:
    case api::UNAVAILABLE:
      return FailureKind::kThrottle;
    case api::NOT_FOUND:
    case api::INVALID_ARGUMENT:
    case api::PAYLOAD_TOO_LARGE:
      return FailureKind::kPermanent;
    default:
      // STATUS_UNSPECIFIED or a status this build does not know: an answer
      // that says nothing is a fault of sprout's, retried as one.
      return FailureKind::kThrottle;
  }
}

uint32_t max_retry_attempts(const api::AsyncConfig& config) {
  return config.has_max_retry_attempts() ? config.max_retry_attempts() : kDefaultMaxRetryAttempts;
}

int64_t max_event_age_ms(const api::AsyncConfig& config) {
  const uint32_t seconds = config.max_event_age_s() == 0 ? kDefaultMaxEventAgeS
                                                          : config.max_event_age_s();
  return int64_t{seconds} * 1000;
}

int64_t retry_delay_ms(uint32_t retry, int64_t retry_base_delay_ms) {
  return std::max<int64_t>(1, int64_t{std::max<uint32_t>(retry, 1)} * retry_base_delay_ms);
}

int64_t throttle_delay_ms(uint32_t throttles, int64_t retry_base_delay_ms) {
  const int64_t first = std::max<int64_t>(1, retry_base_delay_ms / 60);
  const int64_t cap = std::max<int64_t>(first, 5 * retry_base_delay_ms);
  int64_t delay = first;
  for (uint32_t n = 1; n < throttles && delay < cap; ++n) delay *= 2;
  return std::min(cap, delay);
}

bool too_old(int64_t enqueued_unix_ms, const api::AsyncConfig& config, int64_t now_ms) {
  return now_ms - enqueued_unix_ms > max_event_age_ms(config);
}

NextStep next_step(const EventProgress& progress, api::Status status,
                   const api::AsyncConfig& config, int64_t now_ms, int64_t retry_base_delay_ms) {
  NextStep step;
  step.progress = progress;
  auto fail = [&](const char* reason) {
    step.kind = NextStep::kFailed;
    step.reason = reason;
    return step;
  };
  auto retry_at = [&](int64_t at) {
    if (too_old(progress.enqueued_unix_ms, config, at)) return fail(kEventAgeExceeded);
    step.kind = NextStep::kRetry;
    step.next_attempt_unix_ms = at;
    return step;
  };
  switch (classify(status)) {
    case FailureKind::kSuccess:
      step.progress.attempts = progress.attempts + 1;
      step.progress.throttles = 0;
      step.kind = NextStep::kDone;
      return step;
    case FailureKind::kPermanent:
      step.progress.attempts = progress.attempts + 1;
      return fail(kRetriesExhausted);
    case FailureKind::kFunctionFailure:
      step.progress.attempts = progress.attempts + 1;
      step.progress.throttles = 0;
      if (step.progress.attempts > max_retry_attempts(config)) return fail(kRetriesExhausted);
      return retry_at(now_ms + retry_delay_ms(step.progress.attempts, retry_base_delay_ms));
    case FailureKind::kThrottle:
      step.progress.throttles = progress.throttles + 1;
      return retry_at(now_ms + throttle_delay_ms(step.progress.throttles, retry_base_delay_ms));
  }
  return fail(kRetriesExhausted);  // not reached: every kind is handled above
}

}  // namespace sprout::events::async
