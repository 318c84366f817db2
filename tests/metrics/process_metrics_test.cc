// supervisor/process_metrics: /proc/self/stat and /proc/stat parsed as
// Prometheus' client libraries read them, and this test process's own
// figures read for real.
#include "supervisor/process_metrics.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ctime>
#include <thread>

namespace sprout::supervisor {
namespace {

// A real line's shape: fields 3.. after "(comm)"; utime=14, stime=15,
// num_threads=20, starttime=22, vsize=23, rss=24.
constexpr const char* kStat =
    "4242 (sp ro) (ut)d) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 12345 "
    "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessMetrics, ParsesTheStatLineAfterTheLastParenthesis) {
  auto metrics = parse_proc_stat(kStat, 100, 4096, 1700000000);
  ASSERT_TRUE(metrics) << metrics.error().message();
  EXPECT_DOUBLE_EQ(metrics->cpu_seconds, 3.0) << "(250 + 50) ticks at 100 Hz";
  EXPECT_EQ(metrics->threads, 9u);
  EXPECT_DOUBLE_EQ(metrics->start_time_seconds, 1700000000 + 123.45);
  EXPECT_EQ(metrics->virtual_memory_bytes, 104857600u);
  EXPECT_EQ(metrics->resident_memory_bytes, 2560u * 4096);
}

TEST(ProcessMetrics, RefusesALineThatDoesNotParse) {
  EXPECT_FALSE(parse_proc_stat("", 100, 4096, 0));
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2 3", 100, 4096, 0)) << "too few fields";
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 50 0 0 20 0 9 0 1 2 3", 100, 4096,
                               0))
      << "utime not a number";
}

TEST(ProcessMetrics, FindsTheBootTime) {
  auto boot = parse_boot_time("cpu  1 2 3\nintr 5\nctxt 9\nbtime 1699999000\nprocesses 7\n");
  ASSERT_TRUE(boot);
  EXPECT_EQ(*boot, 1699999000.0);
  EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n"));
}

TEST(ProcessMetrics, ReadsThisProcess) {
  // A second thread, so that the count is known to be at least 2.
  std::thread other([] { std::this_thread::sleep_for(std::chrono::milliseconds(200)); });
  auto metrics = read_process_metrics();
  other.join();
  ASSERT_TRUE(metrics) << metrics.error().message();
  EXPECT_GE(metrics->threads, 2u);
  EXPECT_GT(metrics->resident_memory_bytes, 0u);
  EXPECT_GE(metrics->virtual_memory_bytes, metrics->resident_memory_bytes);
  EXPECT_GE(metrics->open_fds, 3u) << "stdin, stdout, stderr";
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(metrics->max_fds, static_cast<double>(limit.rlim_cur));
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(metrics->start_time_seconds, now + 1) << "started before now";
  EXPECT_GT(metrics->start_time_seconds, now - 24 * 3600) << "a test process is not a day old";
}

TEST(ProcessMetrics, CountsADescriptorOpenedMeanwhile) {
  auto before = read_process_metrics();
  ASSERT_TRUE(before);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  auto after = read_process_metrics();
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->open_fds, before->open_fds + 2);
}

}  // namespace
}  // namespace sprout::supervisor
