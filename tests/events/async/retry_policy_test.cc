// The async queue's retry rules as pure functions: which statuses are
// retried, Lambda's delays, throttles that use up no retry, the age limit.
#include "events/async/retry_policy.h"

#include <gtest/gtest.h>

namespace sprout::events::async {
namespace {

constexpr int64_t kMinute = 60'000;

TEST(RetryPolicy, ClassifiesEveryStatus) {
  EXPECT_EQ(classify(api::OK), FailureKind::kSuccess);
  for (api::Status status : {api::FUNCTION_ERROR, api::TIMEOUT, api::OUT_OF_MEMORY, api::CRASHED,
                             api::INIT_ERROR, api::SECCOMP_VIOLATION})
    EXPECT_EQ(classify(status), FailureKind::kFunctionFailure) << api::Status_Name(status);
  for (api::Status status : {api::THROTTLED, api::INTERNAL, api::UNAVAILABLE})
    EXPECT_EQ(classify(status), FailureKind::kThrottle) << api::Status_Name(status);
  for (api::Status status : {api::NOT_FOUND, api::INVALID_ARGUMENT, api::PAYLOAD_TOO_LARGE})
    EXPECT_EQ(classify(status), FailureKind::kPermanent) << api::Status_Name(status);
  EXPECT_EQ(classify(api::STATUS_UNSPECIFIED), FailureKind::kThrottle);
}

TEST(RetryPolicy, LambdaDefaultsAndPerFunctionSettings) {
  api::AsyncConfig config;
  EXPECT_EQ(max_retry_attempts(config), 2u);
  EXPECT_EQ(max_event_age_ms(config), 6 * 3600 * 1000);
  config.set_max_retry_attempts(0);
  config.set_max_event_age_s(60);
  EXPECT_EQ(max_retry_attempts(config), 0u) << "0 set is not unset";
  EXPECT_EQ(max_event_age_ms(config), 60'000);
}

TEST(RetryPolicy, RetryDelaysAreOneThenTwoMinutes) {
  EXPECT_EQ(retry_delay_ms(1, kMinute), kMinute);
  EXPECT_EQ(retry_delay_ms(2, kMinute), 2 * kMinute);
  EXPECT_EQ(retry_delay_ms(1, 50), 50) << "the base scales every delay";
}

TEST(RetryPolicy, ThrottleBackoffDoublesFromOneSecondToFiveMinutes) {
  EXPECT_EQ(throttle_delay_ms(1, kMinute), 1'000);
  EXPECT_EQ(throttle_delay_ms(2, kMinute), 2'000);
  EXPECT_EQ(throttle_delay_ms(3, kMinute), 4'000);
  EXPECT_EQ(throttle_delay_ms(9, kMinute), 256'000);
  EXPECT_EQ(throttle_delay_ms(10, kMinute), 300'000);
  EXPECT_EQ(throttle_delay_ms(1'000'000, kMinute), 300'000);
  EXPECT_EQ(throttle_delay_ms(1, 30), 1) << "never zero: a throttled event must not spin";
}

TEST(RetryPolicy, FunctionFailuresUseUpRetriesThenExhaust) {
  const api::AsyncConfig config;  // 2 retries
  EventProgress progress{.attempts = 0, .throttles = 0, .enqueued_unix_ms = 0};
  NextStep step = next_step(progress, api::FUNCTION_ERROR, config, 1'000, kMinute);
  ASSERT_EQ(step.kind, NextStep::kRetry);
  EXPECT_EQ(step.progress.attempts, 1u);
  EXPECT_EQ(step.next_attempt_unix_ms, 1'000 + kMinute);

  step = next_step(step.progress, api::TIMEOUT, config, 100'000, kMinute);
  ASSERT_EQ(step.kind, NextStep::kRetry);
  EXPECT_EQ(step.next_attempt_unix_ms, 100'000 + 2 * kMinute);

  step = next_step(step.progress, api::CRASHED, config, 300'000, kMinute);
  EXPECT_EQ(step.kind, NextStep::kFailed);
  EXPECT_STREQ(step.reason, kRetriesExhausted);
  EXPECT_EQ(step.progress.attempts, 3u);
}

TEST(RetryPolicy, ThrottlesDoNotUseUpRetries) {
  api::AsyncConfig config;
  config.set_max_retry_attempts(0);
  EventProgress progress;
  for (int i = 1; i <= 5; ++i) {
    const NextStep step = next_step(progress, api::THROTTLED, config, 0, kMinute);
    ASSERT_EQ(step.kind, NextStep::kRetry) << "throttle " << i;
    EXPECT_EQ(step.progress.attempts, 0u);
    EXPECT_EQ(step.progress.throttles, static_cast<uint32_t>(i));
    progress = step.progress;
  }
  const NextStep ran = next_step(progress, api::OK, config, 0, kMinute);
  EXPECT_EQ(ran.kind, NextStep::kDone);
}

TEST(RetryPolicy, PermanentFailuresAreNeverRetried) {
  for (api::Status status : {api::NOT_FOUND, api::INVALID_ARGUMENT, api::PAYLOAD_TOO_LARGE}) {
    const NextStep step = next_step(EventProgress{}, status, api::AsyncConfig{}, 0, kMinute);
    EXPECT_EQ(step.kind, NextStep::kFailed);
    EXPECT_STREQ(step.reason, kRetriesExhausted);
  }
}

TEST(RetryPolicy, ARetryPastTheMaximumAgeFailsNowForAge) {
  api::AsyncConfig config;
  config.set_max_event_age_s(90);
  const EventProgress progress{.attempts = 0, .throttles = 0, .enqueued_unix_ms = 0};
  // Retry 1 at 30 s + 60 s = 90 s: exactly the limit, still allowed.
  NextStep step = next_step(progress, api::FUNCTION_ERROR, config, 30'000, kMinute);
  ASSERT_EQ(step.kind, NextStep::kRetry);
  // Retry 2 would start at 90 s + 120 s.
  step = next_step(step.progress, api::FUNCTION_ERROR, config, 90'000, kMinute);
  EXPECT_EQ(step.kind, NextStep::kFailed);
  EXPECT_STREQ(step.reason, kEventAgeExceeded);
  EXPECT_TRUE(too_old(0, config, 90'001));
  EXPECT_FALSE(too_old(0, config, 90'000));
}

}  // namespace
}  // namespace sprout::events::async
