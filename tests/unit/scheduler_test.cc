// supervisor/scheduler: admission within the global and per-function
// limits, the queue, its timeout, draining.
#include "supervisor/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace sprout {
namespace {

TEST(Scheduler, AdmitsWithinLimitsQueuesThenThrottles) {
  supervisor::Scheduler scheduler(2, 1, std::chrono::milliseconds(100));
  std::chrono::microseconds waited;
  supervisor::Scheduler::Slot a, b, c, d;
  using Admission = supervisor::Scheduler::Admission;
  EXPECT_EQ(scheduler.admit("f", 1, &a, &waited), Admission::kAdmitted);
  EXPECT_EQ(scheduler.admit("g", 5, &b, &waited), Admission::kAdmitted);
  EXPECT_EQ(scheduler.live(), 2u);
  // Global limit reached: one may wait (and times out), the next is refused.
  auto until_queued = [&] {
    while (scheduler.queued() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  std::thread waiter(
      [&] { EXPECT_EQ(scheduler.admit("g", 5, &c, &waited), Admission::kQueueTimeout); });
  until_queued();
  EXPECT_EQ(scheduler.admit("g", 5, &d, &waited), Admission::kQueueFull);
  waiter.join();
  EXPECT_GE(waited.count(), 0);
  // A slot freed lets a waiter in.
  supervisor::Scheduler slow_queue(2, 1, std::chrono::seconds(30));
  supervisor::Scheduler::Slot e, f, g;
  ASSERT_EQ(slow_queue.admit("f", 5, &e, &waited), Admission::kAdmitted);
  ASSERT_EQ(slow_queue.admit("f", 5, &f, &waited), Admission::kAdmitted);
  std::thread admitted(
      [&] { EXPECT_EQ(slow_queue.admit("g", 5, &g, &waited), Admission::kAdmitted); });
  while (slow_queue.queued() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  f = supervisor::Scheduler::Slot();
  admitted.join();
  EXPECT_EQ(slow_queue.live("g"), 1u);
  scheduler.start_draining();
  EXPECT_EQ(scheduler.admit("h", 5, &d, &waited), Admission::kDraining);
}

}  // namespace
}  // namespace sprout
