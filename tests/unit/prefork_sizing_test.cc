// The pre-fork pool's sizing rule (supervisor/prefork_keeper.h): Little's
// law over the measured arrival rate and refill time, within the spec's
// bounds, never below the peak concurrency of a recently used pool.
#include <gtest/gtest.h>

#include "supervisor/prefork_keeper.h"

namespace sprout::supervisor {
namespace {

PoolDemand busy(double arrivals_per_s, double refill_ms, uint32_t peak = 1) {
  return PoolDemand{.min_idle = 0,
                    .max_idle = 8,
                    .recently_used = true,
                    .peak_concurrency = peak,
                    .arrivals_per_s = arrivals_per_s,
                    .refill_ms = refill_ms};
}

TEST(PreforkSizing, LittlesLawCountsTheArrivalsDuringOneRefill) {
  EXPECT_EQ(sandboxes_in_pipeline(0, 12), 0u);
  EXPECT_EQ(sandboxes_in_pipeline(10, 12), 1u);    // 0.12 sandboxes: one
  EXPECT_EQ(sandboxes_in_pipeline(100, 12), 2u);   // 1.2: two
  EXPECT_EQ(sandboxes_in_pipeline(250, 12), 3u);   // 3.0 exactly
  EXPECT_EQ(sandboxes_in_pipeline(1e9, 1e9), 1024u);  // bounded
}

TEST(PreforkSizing, ASlowSteadyCallerKeepsOneSandboxReady) {
  EXPECT_EQ(prefork_target(busy(2, 15)), 1u);
}

TEST(PreforkSizing, ABackToBackCallerGetsEnoughToCoverARefill) {
  // One call every 8 ms while a refill takes 20 ms: three on the way.
  EXPECT_EQ(prefork_target(busy(125, 20)), 3u);
}

TEST(PreforkSizing, ConcurrentCallersGetOneEachAtLeast) {
  EXPECT_EQ(prefork_target(busy(1, 10, /*peak=*/5)), 5u);
}

TEST(PreforkSizing, BoundsOfTheSpecWin) {
  PoolDemand demand = busy(1000, 50);  // 50 wanted
  EXPECT_EQ(prefork_target(demand), 8u);
  demand.min_idle = 2;
  demand.max_idle = 0;  // a max below the min: the min is kept
  demand.arrivals_per_s = 0;
  EXPECT_EQ(prefork_target(demand), 2u);
}

TEST(PreforkSizing, BeforeARefillWasMeasuredOneSandboxPerCaller) {
  EXPECT_EQ(prefork_target(busy(500, 0, /*peak=*/2)), 2u);
}

TEST(PreforkSizing, AnUnusedPoolFallsBackToItsMinimum) {
  PoolDemand demand = busy(500, 20, 4);
  demand.recently_used = false;
  EXPECT_EQ(prefork_target(demand), 0u);
  demand.min_idle = 1;
  EXPECT_EQ(prefork_target(demand), 1u);
}

}  // namespace
}  // namespace sprout::supervisor
