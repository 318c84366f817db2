// A function snapshot runs the function's own init code, so it may be
// hijacked. Here a fake snapshot answers ForkSandbox with pidfds of processes
// that are not its sandboxes; sproutd's side must refuse them, never kill,
// place or wait for them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "agent/proto/agent_protocol.pb.h"
#include "protocol/message_channel.h"
#include "snapshot/function_snapshot.h"
#include "tests/snapshot/snapshot_fixture.h"

namespace sprout::testing {
namespace {

// Forks a fake snapshot that answers one ForkSandbox with a pidfd of
// `victim`, or (victim 0) of a child it forks itself without a new user
// namespace, whose pid it writes to `*own_child_pid` (shared memory).
std::unique_ptr<FunctionSnapshot> fake_snapshot(pid_t victim, pid_t* own_child_pid = nullptr) {
  int pair[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  int report[2];
  EXPECT_EQ(pipe2(report, O_CLOEXEC), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(pair[0]);
    close(report[0]);
    agent::SnapshotCommand command;
    std::vector<UniqueFd> fds;
    if (!receive_packet(pair[1], command, &fds)) _exit(1);
    if (victim == 0) {
      victim = fork();
      if (victim == 0) {
        pause();
        _exit(0);
      }
    }
    if (write(report[1], &victim, sizeof victim) != sizeof victim) _exit(1);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, victim, 0));
    agent::ForkResult result;
    result.set_ok(true);
    result.set_sandbox_pid(victim);
    (void)send_packet(pair[1], result, {pidfd});
    pause();
    _exit(0);
  }
  close(pair[1]);
  close(report[1]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  FunctionDefinition definition;
  definition.name = "victimizer";
  auto snapshot = std::make_unique<FunctionSnapshot>(definition, pid, UniqueFd(pidfd),
                                                     UniqueFd(pair[0]), nullptr, HostIdLease{});
  // The report is read after the invoke (the fake answers only then).
  static thread_local int report_fd = -1;
  report_fd = report[0];
  if (own_child_pid) *own_child_pid = -report_fd;  // resolved by read_victim()
  return snapshot;
}

pid_t read_victim(pid_t handle) {
  pid_t victim = -1;
  int fd = -handle;
  EXPECT_EQ(read(fd, &victim, sizeof victim), static_cast<ssize_t>(sizeof victim));
  close(fd);
  return victim;
}

TEST(HijackedSnapshot, PidfdOfAProcessThatIsNotItsChildIsRefused) {
  auto snapshot = fake_snapshot(getpid());  // "please kill sproutd"
  auto result = snapshot->invoke({.payload = "{}", .timeout_ms = 1000});
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("is not a child of its snapshot"), std::string::npos)
      << result.error().message();
  EXPECT_TRUE(wait_until([&] { return !snapshot->alive(); }, std::chrono::seconds(30)))
      << "a snapshot that lies is killed";
}

TEST(HijackedSnapshot, PidfdOfAChildOutsideItsUserNamespaceIsRefusedAndLeftAlone) {
  // The snapshot's own child, but not one of its sandboxes: it was not
  // created in a user namespace of the snapshot's (e.g. a daemon of its init).
  pid_t handle = 0;
  auto snapshot = fake_snapshot(0, &handle);
  auto result = snapshot->invoke({.payload = "{}", .timeout_ms = 1000});
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("was not created by its snapshot"), std::string::npos)
      << result.error().message();
  pid_t bystander = read_victim(handle);
  ASSERT_GT(bystander, 0);
  // Not killed by the refused invocation (only the lying snapshot is).
  EXPECT_EQ(kill(bystander, 0), 0);
  snapshot.reset();
  kill(bystander, SIGKILL);
}

}  // namespace
}  // namespace sprout::testing
