// host/process_counters: parsing /proc/PID/stat and status, against a fake
// /proc (a command name with spaces and parentheses) and the real one.
#include "host/process_counters.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sprout {
namespace {

TEST(ProcessCounters, ReadsFaultsAfterATrickyCommandNameAndSwitchesFromStatus) {
  const std::string proc = ::testing::TempDir() + "/fake-proc-" + std::to_string(getpid());
  std::filesystem::create_directories(proc + "/42");
  std::ofstream(proc + "/42/stat")
      << "42 (a) b (c) S 1 42 42 0 -1 4194560 1234 99 7 0 10 20 0 0 20 0 1 0 100 1000 50\n";
  std::ofstream(proc + "/42/status")
      << "Name:\ta) b (c\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t31\n"
         "nonvoluntary_ctxt_switches:\t5\n";
  auto counters = read_process_counters(42, proc);
  std::filesystem::remove_all(proc);
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->minor_faults, 1234u);
  EXPECT_EQ(counters->major_faults, 7u);
  EXPECT_EQ(counters->voluntary_switches, 31u);
  EXPECT_EQ(counters->involuntary_switches, 5u);
}

TEST(ProcessCounters, AGoneProcessHasNone) {
  EXPECT_FALSE(read_process_counters(42, "/nonexistent-proc"));
}

TEST(ProcessCounters, OwnCountersGrowWithTouchedPages) {
  auto before = read_process_counters(getpid());
  ASSERT_TRUE(before);
  std::vector<char> block(16 << 20);
  for (size_t i = 0; i < block.size(); i += 4096) block[i] = 1;
  auto after = read_process_counters(getpid());
  ASSERT_TRUE(after);
  EXPECT_GT(after->minor_faults, before->minor_faults);
}

}  // namespace
}  // namespace sprout
