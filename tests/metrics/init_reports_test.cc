// supervisor/init_reports: the first invocation on a freshly loaded
// snapshot reports its init, and no other does.
#include "supervisor/init_reports.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sprout::supervisor {
namespace {

TEST(InitReports, TheFirstClaimGetsTheFigureAndNoLaterOne) {
  InitReports reports;
  auto snapshot = std::make_shared<int>(1);
  EXPECT_FALSE(reports.claim(snapshot)) << "nothing noted yet";
  EXPECT_TRUE(reports.loaded(snapshot, 139190));
  EXPECT_EQ(reports.claim(snapshot), 139190u);
  EXPECT_FALSE(reports.claim(snapshot));
}

TEST(InitReports, TheFirstFigureNotedForASnapshotStays) {
  InitReports reports;
  auto snapshot = std::make_shared<int>(1);
  EXPECT_TRUE(reports.loaded(snapshot, 100));  // the deploy's, measured in the snapshot
  EXPECT_FALSE(reports.loaded(snapshot, 900));  // a later waiter's
  EXPECT_EQ(reports.claim(snapshot), 100u);
}

TEST(InitReports, ANewSnapshotIsNeverTakenForAnEndedOne) {
  InitReports reports;
  auto first = std::make_shared<int>(1);
  ASSERT_TRUE(reports.loaded(first, 100));
  ASSERT_EQ(reports.claim(first), 100u);
  first.reset();
  // Possibly at the same address: told apart all the same.
  auto second = std::make_shared<int>(2);
  EXPECT_FALSE(reports.claim(second));
  EXPECT_TRUE(reports.loaded(second, 200));
  EXPECT_EQ(reports.claim(second), 200u);
  EXPECT_EQ(reports.tracked(), 1u) << "the ended snapshot is forgotten";
}

TEST(InitReports, ConcurrentInvocationsOnOneSnapshotClaimItOnce) {
  InitReports reports;
  auto snapshot = std::make_shared<int>(1);
  ASSERT_TRUE(reports.loaded(snapshot, 5));
  std::atomic<int> reported{0};
  std::vector<std::thread> invocations;
  for (int i = 0; i < 8; ++i)
    invocations.emplace_back([&] {
      for (int j = 0; j < 100; ++j) reported += reports.claim(snapshot).has_value();
    });
  for (auto& thread : invocations) thread.join();
  EXPECT_EQ(reported.load(), 1);
}

}  // namespace
}  // namespace sprout::supervisor
