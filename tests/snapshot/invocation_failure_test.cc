// sprout's own failures during an invocation, as opposed to the function's:
// they are INTERNAL with the step and errno, never a TIMEOUT or a crash, and
// the sandbox is killed rather than left running unwatched.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/spawn.h"
#include "snapshot/function_snapshot.h"
#include "snapshot/sandbox_reaper.h"

namespace sprout::testing {
namespace {

// In-process user code that waits to be killed.
int wait_forever(void*) {
  for (;;) pause();
}

TEST(InvocationFailure, FailedPollIsAnInternalErrorWithItsErrnoAndKillsTheSandbox) {
  if (geteuid() != 0) GTEST_SKIP() << "spawns a sandbox (root)";
  // No sandbox of an earlier test is still being reaped: the reaper's own
  // poll stays within the lowered limit below.
  SandboxReaper::instance().wait_until_empty();
  sandbox::SandboxSpec spec;
  auto prepared = prepare_sandbox(spec, nullptr);
  ASSERT_TRUE(prepared.has_value()) << prepared.error().message();
  auto spawned = spawn_sandbox(**prepared, {.entry = wait_forever});
  ASSERT_TRUE(spawned.has_value()) << spawned.error().message();
  // Watched by the test too, to see it end.
  UniqueFd watch(dup(spawned->pidfd()));
  ASSERT_TRUE(watch);
  int channel[2], logs[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel), 0);
  ASSERT_EQ(pipe2(logs, O_CLOEXEC), 0);
  UniqueFd sandbox_channel(channel[1]), sandbox_logs(logs[1]);
  ReadySandbox ready{
      .sandbox = std::move(*spawned), .channel = UniqueFd(channel[0]), .logs = UniqueFd(logs[0])};

  // poll(2) fails with EINVAL when it is given more descriptors than
  // RLIMIT_NOFILE allows; the invocation polls five. Nothing else of the
  // invocation needs a new descriptor before its poll.
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const rlimit lowered{4, saved.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  FunctionDefinition definition;
  definition.name = "poll-fails";
  InvocationResult result = run_invocation(ready, agent::InvokeRequest(), 60000, definition);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);

  EXPECT_EQ(result.status, InvocationStatus::kInternal) << result.detail;
  EXPECT_NE(result.detail.find("poll"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("EINVAL (Invalid argument)"), std::string::npos) << result.detail;
  // Killed (its deadline is a minute away), and reaped.
  pollfd ended{watch.get(), POLLIN, 0};
  EXPECT_EQ(poll(&ended, 1, 30000), 1) << "the sandbox was left running";
  SandboxReaper::instance().wait_until_empty();
}

}  // namespace
}  // namespace sprout::testing
