// supervisor/function_stats: what an invocation is billed, and the
// per-function statistics.
#include "supervisor/function_stats.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace sprout {
namespace {

TEST(FunctionStats, BillsRunTimePlusPrerequestCpuInWholeMilliseconds) {
  using supervisor::billed_milliseconds;
  EXPECT_EQ(billed_milliseconds(0, 0), 1u) << "at least 1 ms";
  EXPECT_EQ(billed_milliseconds(1, 0), 1u);
  EXPECT_EQ(billed_milliseconds(1000, 0), 1u);
  EXPECT_EQ(billed_milliseconds(1001, 0), 2u);
  EXPECT_EQ(billed_milliseconds(0, 1001), 2u) << "CPU before the request is billed alone too";
  EXPECT_EQ(billed_milliseconds(600, 400), 1u) << "ceil((600 + 400) / 1000)";
  EXPECT_EQ(billed_milliseconds(600, 401), 2u) << "summed before rounding, not rounded each";
  EXPECT_EQ(billed_milliseconds(2500, 2500), 5u);
  EXPECT_EQ(billed_milliseconds(uint64_t{1} << 40, 0), (uint64_t{1} << 40) / 1000 + 1);
}

TEST(FunctionStats, ComputesPercentilesAndTotals) {
  supervisor::FunctionStats stats;
  for (uint64_t i = 1; i <= 100; ++i) {
    api::Metrics metrics;
    metrics.set_total_us(i * 1000);
    metrics.set_billed_ms(2);
    metrics.set_fork_us(i % 2 ? 500 : 0);
    metrics.set_preforked(i % 2 == 0);
    stats.record(i == 100 ? api::TIMEOUT : api::OK, metrics, 512);
  }
  auto snapshot = stats.snapshot("f");
  EXPECT_EQ(snapshot.invocations(), 100u);
  EXPECT_EQ(snapshot.by_status().at("OK"), 99u);
  EXPECT_EQ(snapshot.by_status().at("TIMEOUT"), 1u);
  EXPECT_EQ(snapshot.p50_us(), 51000u);
  EXPECT_EQ(snapshot.p99_us(), 100000u);
  EXPECT_EQ(snapshot.billed_ms(), 200u);
  EXPECT_NEAR(snapshot.gb_seconds(), 0.5 * 0.002 * 100, 1e-9);  // 512 MiB x 2 ms x 100
  EXPECT_EQ(snapshot.cold_starts(), 50u);
  EXPECT_EQ(snapshot.preforked_starts(), 50u);
}

TEST(FunctionStats, CountersForMetricsMatchTheStatsAndOnlyGrow) {
  supervisor::FunctionStats stats;
  supervisor::FunctionStats::Counters previous = stats.counters();
  for (uint64_t i = 1; i <= 20; ++i) {
    api::Metrics metrics;
    metrics.set_total_us(i * 1500);
    metrics.set_run_us(i % 4 ? i * 1000 : 0);  // every 4th never reached a sandbox
    metrics.set_billed_ms(i % 4 ? i : 0);
    metrics.set_fork_us(i % 2 ? 300 : 0);
    metrics.set_preforked(i % 2 == 0);
    stats.record(i % 5 ? api::OK : api::FUNCTION_ERROR, metrics, 256);
    if (i % 3 == 0) stats.record_throttle();
    if (i == 1) stats.record_init(139190);
    const supervisor::FunctionStats::Counters now = stats.counters();
    // Monotonic, as Prometheus counters must be.
    EXPECT_GE(now.billed_ms, previous.billed_ms);
    EXPECT_GE(now.memory_mb_billed_ms, previous.memory_mb_billed_ms);
    EXPECT_GE(now.throttles, previous.throttles);
    EXPECT_EQ(now.total_seconds.count(), previous.total_seconds.count() + 1);
    EXPECT_GE(now.total_seconds.sum(), previous.total_seconds.sum());
    previous = now;
  }
  const auto snapshot = stats.snapshot("f");
  const auto& counters = previous;
  EXPECT_EQ(counters.by_status.at("OK"), snapshot.by_status().at("OK"));
  EXPECT_EQ(counters.by_status.at("FUNCTION_ERROR"), 4u);
  EXPECT_EQ(counters.billed_ms, snapshot.billed_ms());
  EXPECT_EQ(counters.cold_starts, snapshot.cold_starts());
  EXPECT_EQ(counters.prefork_hits, snapshot.preforked_starts());
  EXPECT_EQ(counters.throttles, 6u);
  EXPECT_EQ(snapshot.invocations(), 20u) << "a throttle is not an invocation";
  // Kept whole: memory_mb x billed_ms, the exact GB-seconds x 1024 x 1000.
  EXPECT_EQ(counters.memory_mb_billed_ms, 256 * counters.billed_ms);
  EXPECT_NEAR(static_cast<double>(counters.memory_mb_billed_ms) / 1024 / 1000,
              snapshot.gb_seconds(), 1e-9);
  EXPECT_EQ(counters.total_seconds.count(), 20u);
  EXPECT_EQ(counters.run_seconds.count(), 15u) << "only invocations that ran have a run phase";
  EXPECT_EQ(counters.init_seconds.count(), 1u);
  EXPECT_DOUBLE_EQ(counters.init_seconds.sum(), 0.13919);
}

}  // namespace
}  // namespace sprout
