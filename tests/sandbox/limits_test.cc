// Resource fences, tried for real: fork bomb, memory hog, CPU spin, and a
// double-forked daemon that must die with its sandbox.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/sandbox/sandbox_fixture.h"

namespace sprout::testing {
namespace {

class LimitsTest : public SandboxTest {};

// Host pids whose command line contains `marker`.
std::vector<pid_t> host_processes_with(const std::string& marker) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  while (dirent* entry = readdir(proc)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + entry->d_name + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(marker) != std::string::npos) found.push_back(atoi(entry->d_name));
  }
  closedir(proc);
  return found;
}

TEST_F(LimitsTest, ForkBombIsStoppedByThePidsLimit) {
  if (!pool_->layout().pids) GTEST_SKIP() << "no pids controller: " << pool_->layout().describe();
  auto run = run_probe({"fork-bomb"}, [](sandbox::SandboxSpec& spec) { spec.set_pids_limit(16); });
  ASSERT_TRUE(run.outcome.has_value()) << run.outcome.error().message();
  EXPECT_EQ(run.outcome->kind, OutcomeKind::kExited) << run.outcome->describe();
  long forked = -1;
  char refused[32] = {};
  ASSERT_EQ(sscanf(run.output.c_str(), "ok %ld refused %31s", &forked, refused), 2) << run.output;
  // Neighbour: forking itself works, up to the limit (the probe is one of 16).
  EXPECT_GE(forked, 1);
  EXPECT_LT(forked, 16);
  EXPECT_STREQ(refused, "EAGAIN");
}

TEST_F(LimitsTest, MemoryHogIsKilledAsOutOfMemory) {
  if (!pool_->layout().memory)
    GTEST_SKIP() << "no memory controller: " << pool_->layout().describe();
  auto limit = [](sandbox::SandboxSpec& spec) { spec.set_memory_limit_bytes(64ull << 20); };
  auto run = run_probe({"memory-hog", "512"}, limit);
  ASSERT_TRUE(run.outcome.has_value()) << run.outcome.error().message();
  EXPECT_EQ(run.outcome->kind, OutcomeKind::kOutOfMemory) << run.outcome->describe();
  EXPECT_GE(run.outcome->oom_kills, 1u);
  EXPECT_EQ(run.output, "");
  // Neighbour: a modest allocation under the same limit is fine, and its
  // peak is measured.
  auto modest = run_probe({"memory-hog", "16"}, limit);
  ASSERT_TRUE(modest.outcome.has_value());
  EXPECT_EQ(modest.outcome->kind, OutcomeKind::kExited) << modest.outcome->describe();
  EXPECT_EQ(modest.output, "ok 16");
  EXPECT_GE(modest.outcome->peak_memory_bytes, 16ull << 20);
  EXPECT_LT(modest.outcome->peak_memory_bytes, 64ull << 20);
}

TEST_F(LimitsTest, CpuSpinIsKilledAtItsDeadline) {
  // The deadline runs from the clone; a second leaves the spin time to run
  // even when a loaded machine makes the spawn itself slow.
  auto run = run_probe({"spin"}, [](sandbox::SandboxSpec& spec) { spec.set_deadline_ms(1000); });
  ASSERT_TRUE(run.outcome.has_value()) << run.outcome.error().message();
  EXPECT_EQ(run.outcome->kind, OutcomeKind::kDeadlineExceeded) << run.outcome->describe();
  EXPECT_GE(run.outcome->wall_time_us, 1000000u);
  EXPECT_GT(run.outcome->cpu_time_us, 0u)
      << "the spin burnt CPU and it was measured: " << run.outcome->describe();
  // Neighbour: a quick run under a deadline ends on its own. (Not 300 ms
  // again: on a loaded machine the spawn alone may take a good part of that.)
  auto quick =
      run_probe({"exit", "7"}, [](sandbox::SandboxSpec& spec) { spec.set_deadline_ms(5000); });
  ASSERT_TRUE(quick.outcome.has_value());
  EXPECT_EQ(quick.outcome->kind, OutcomeKind::kExited);
  EXPECT_EQ(quick.outcome->exit_code, 7);
}

TEST_F(LimitsTest, DoubleForkedDaemonDiesWithTheSandbox) {
  const std::string marker = "sprout-daemon-marker-" + std::to_string(getpid());
  auto run = run_probe({"daemonize", marker});
  ASSERT_TRUE(run.outcome.has_value()) << run.outcome.error().message();
  EXPECT_EQ(run.outcome->kind, OutcomeKind::kExited) << run.outcome->describe();
  // "ok" only once the daemon has exec'd with the marker: without it, an
  // empty process list below would prove nothing.
  ASSERT_TRUE(succeeded(run.output)) << "the daemon never started: " << run.output;
  EXPECT_TRUE(host_processes_with(marker).empty()) << "the daemon outlived its sandbox";
}

TEST_F(LimitsTest, DaemonIsRunningWhileTheSandboxLives) {
  // The neighbour of the test above: the daemon really starts, so its
  // absence afterwards means it was killed, not that it never ran.
  const std::string marker = "sprout-daemon-alive-" + std::to_string(getpid());
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  auto sandbox = spawn_probe(
      {},
      [&marker](sandbox::SandboxSpec& spec) {
        spec.clear_argv();
        spec.add_argv("/usr/bin/sh");
        spec.add_argv("-c");
        spec.add_argv("/var/task/sandbox_probe daemonize \"$0\"; sleep 60");
        spec.add_argv(marker);
      },
      pipe_fds[1]);
  close(pipe_fds[1]);
  ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message();
  const bool seen =
      wait_until([&] { return !host_processes_with(marker).empty(); }, std::chrono::seconds(30));
  close(pipe_fds[0]);
  EXPECT_TRUE(seen);
  ASSERT_TRUE(sandbox->kill().has_value());
  ASSERT_TRUE(sandbox->wait().has_value());
  EXPECT_TRUE(host_processes_with(marker).empty());
}

TEST_F(LimitsTest, CgroupLeafIsReusedAndEmptyAfterTheSandbox) {
  if (pool_->layout().version == CgroupVersion::kNone) GTEST_SKIP() << "no cgroup controllers";
  for (int i = 0; i < 3; ++i) {
    auto run = run_probe({"exit", "0"});
    ASSERT_TRUE(run.outcome.has_value());
  }
  EXPECT_EQ(pool_->created_count(), 1u) << "three sequential sandboxes share one pooled leaf";
  EXPECT_EQ(pool_->idle_count(), 1u);
}

}  // namespace
}  // namespace sprout::testing
