// supervisor/scheduler: admission within the global and per-function
// limits, the queue (no thread held while waiting), its timeout,
// cancellation, draining.
#include "supervisor/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace sprout {
namespace {

using supervisor::Scheduler;
using Admission = Scheduler::Admission;

// Records the decision of one request(), from whatever thread makes it.
struct Outcome {
  std::mutex mutex;
  std::condition_variable decided;
  std::optional<Admission> admission;
  Scheduler::Slot slot;
  std::chrono::microseconds waited{-1};

  Scheduler::Decision callback() {
    return [this](Admission a, Scheduler::Slot s, std::chrono::microseconds w) {
      std::lock_guard lock(mutex);
      admission = a;
      slot = std::move(s);
      waited = w;
      decided.notify_all();
    };
  }
  // Waits for the decision; the deadline only stops a broken scheduler
  // from hanging the test.
  std::optional<Admission> wait() {
    std::unique_lock lock(mutex);
    decided.wait_for(lock, std::chrono::seconds(30), [&] { return admission.has_value(); });
    return admission;
  }
  bool decided_yet() {
    std::lock_guard lock(mutex);
    return admission.has_value();
  }
};

TEST(Scheduler, AdmitsAtOnceWithinLimits) {
  Scheduler scheduler(2, 1, std::chrono::seconds(30));
  Outcome a, b;
  EXPECT_EQ(scheduler.request("f", 1, a.callback()), 0u);
  EXPECT_EQ(scheduler.request("g", 5, b.callback()), 0u);
  EXPECT_EQ(a.admission, Admission::kAdmitted);
  EXPECT_EQ(b.admission, Admission::kAdmitted);
  EXPECT_TRUE(a.slot.held());
  EXPECT_EQ(a.waited.count(), 0);
  EXPECT_EQ(scheduler.live(), 2u);
  a.slot = Scheduler::Slot();
  EXPECT_EQ(scheduler.live(), 1u);
}

TEST(Scheduler, QueuesWithoutAThreadThenAdmitsOnRelease) {
  Scheduler scheduler(2, 4, std::chrono::seconds(30));
  Outcome a, b, queued;
  scheduler.request("f", 5, a.callback());
  scheduler.request("f", 5, b.callback());
  // The request returns at once with a ticket; nothing is decided yet.
  EXPECT_NE(scheduler.request("g", 5, queued.callback()), 0u);
  EXPECT_FALSE(queued.decided_yet());
  EXPECT_EQ(scheduler.queued(), 1u);
  b.slot = Scheduler::Slot();  // the release admits the waiter
  EXPECT_EQ(queued.wait(), Admission::kAdmitted);
  EXPECT_TRUE(queued.slot.held());
  EXPECT_GE(queued.waited.count(), 0);
  EXPECT_EQ(scheduler.live("g"), 1u);
  EXPECT_EQ(scheduler.queued(), 0u);
}

TEST(Scheduler, FullQueueIsRefusedAndTheWaiterTimesOut) {
  Scheduler scheduler(1, 1, std::chrono::milliseconds(50));
  Outcome running, waiting, refused;
  scheduler.request("f", 5, running.callback());
  scheduler.request("f", 5, waiting.callback());
  EXPECT_EQ(scheduler.request("f", 5, refused.callback()), 0u);
  EXPECT_EQ(refused.admission, Admission::kQueueFull);
  // Decided by the expiry thread: no caller is blocked meanwhile.
  EXPECT_EQ(waiting.wait(), Admission::kQueueTimeout);
  EXPECT_FALSE(waiting.slot.held());
  EXPECT_GE(waiting.waited, std::chrono::milliseconds(50));
  EXPECT_EQ(scheduler.queued(), 0u);
  // Both refusals are counted, each under its reason (/metrics).
  const Scheduler::Refusals refusals = scheduler.refusals();
  EXPECT_EQ(refusals.queue_full, 1u);
  EXPECT_EQ(refusals.queue_timeout, 1u);
}

TEST(Scheduler, CountsNoRefusalForAdmissionsCancellationsOrADrain) {
  Scheduler scheduler(1, 2, std::chrono::seconds(30));
  Outcome running, cancelled, drained;
  scheduler.request("f", 5, running.callback());
  const uint64_t ticket = scheduler.request("f", 5, cancelled.callback());
  ASSERT_TRUE(scheduler.cancel(ticket));
  scheduler.request("f", 5, drained.callback());
  scheduler.start_draining();
  EXPECT_EQ(drained.wait(), Admission::kDraining);
  const Scheduler::Refusals refusals = scheduler.refusals();
  EXPECT_EQ(refusals.queue_full, 0u);
  EXPECT_EQ(refusals.queue_timeout, 0u);
}

TEST(Scheduler, AWaiterAtItsFunctionLimitDoesNotHoldUpOthers) {
  Scheduler scheduler(3, 4, std::chrono::seconds(30));
  Outcome f1, f2_waits, g1;
  scheduler.request("f", 1, f1.callback());
  EXPECT_NE(scheduler.request("f", 1, f2_waits.callback()), 0u);
  scheduler.request("g", 1, g1.callback());
  EXPECT_EQ(g1.wait(), Admission::kAdmitted);
  EXPECT_FALSE(f2_waits.decided_yet());
  f1.slot = Scheduler::Slot();
  EXPECT_EQ(f2_waits.wait(), Admission::kAdmitted);
}

TEST(Scheduler, CancelledWaiterIsNeverCalledAndFreesItsPlace) {
  Scheduler scheduler(1, 1, std::chrono::seconds(30));
  Outcome running, gone, next;
  scheduler.request("f", 5, running.callback());
  const uint64_t ticket = scheduler.request("f", 5, gone.callback());
  ASSERT_NE(ticket, 0u);
  EXPECT_TRUE(scheduler.cancel(ticket));
  EXPECT_FALSE(scheduler.cancel(ticket));
  EXPECT_EQ(scheduler.queued(), 0u);
  // Its place in the bounded queue is free again.
  EXPECT_NE(scheduler.request("f", 5, next.callback()), 0u);
  running.slot = Scheduler::Slot();
  EXPECT_EQ(next.wait(), Admission::kAdmitted);
  EXPECT_FALSE(gone.decided_yet());
}

TEST(Scheduler, DrainingEndsWaitersAndRefusesNewRequests) {
  Scheduler scheduler(1, 2, std::chrono::seconds(30));
  Outcome running, waiting, late;
  scheduler.request("f", 5, running.callback());
  scheduler.request("f", 5, waiting.callback());
  scheduler.start_draining();
  EXPECT_EQ(waiting.wait(), Admission::kDraining);
  scheduler.request("h", 5, late.callback());
  EXPECT_EQ(late.admission, Admission::kDraining);
}

}  // namespace
}  // namespace sprout
