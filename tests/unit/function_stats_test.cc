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

}  // namespace
}  // namespace sprout
