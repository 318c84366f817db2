// A function snapshot runs the function's own init code, so it may be
// hijacked. Here a fake snapshot answers ForkSandbox with pidfds of processes
// that are not its sandboxes; sproutd's side must refuse them, never kill,
// place or wait for them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/proto/agent_protocol.pb.h"
#include "sandbox/message_channel.h"
#include "snapshot/function_snapshot.h"

namespace sprout::testing {
namespace {

// Forks a fake snapshot that answers one ForkSandbox with a pidfd of `victim`.
std::unique_ptr<FunctionSnapshot> fake_snapshot(pid_t victim) {
  int pair[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(pair[0]);
    agent::SnapshotCommand command;
    std::vector<UniqueFd> fds;
    if (!receive_packet(pair[1], command, &fds)) _exit(1);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, victim, 0));
    agent::ForkResult result;
    result.set_ok(true);
    result.set_sandbox_pid(victim);
    (void)send_packet(pair[1], result, {pidfd});
    pause();
    _exit(0);
  }
  close(pair[1]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  FunctionDefinition definition;
  definition.name = "victimizer";
  return std::make_unique<FunctionSnapshot>(definition, pid, UniqueFd(pidfd), UniqueFd(pair[0]),
                                            nullptr);
}

TEST(HijackedSnapshot, PidfdOfAProcessThatIsNotOurChildIsRefused) {
  auto snapshot = fake_snapshot(getpid());  // "please kill sproutd"
  auto result = snapshot->invoke({.payload = "{}", .timeout_ms = 100});
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("is not a child of sproutd"), std::string::npos)
      << result.error().message();
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    dead = !snapshot->alive();
    if (!dead) usleep(10 * 1000);
  }
  EXPECT_TRUE(dead) << "a snapshot that lies is killed";
}

TEST(HijackedSnapshot, PidfdOfAnotherChildIsRefusedAndLeftAlone) {
  pid_t bystander = fork();  // e.g. a zygote or another function's sandbox
  if (bystander == 0) {
    pause();
    _exit(0);
  }
  auto snapshot = fake_snapshot(bystander);
  auto result = snapshot->invoke({.payload = "{}", .timeout_ms = 100});
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("was not created by its snapshot"), std::string::npos)
      << result.error().message();
  // The bystander was neither killed nor reaped by the refused invocation.
  EXPECT_EQ(kill(bystander, 0), 0);
  EXPECT_EQ(waitpid(bystander, nullptr, WNOHANG), 0);
  kill(bystander, SIGKILL);
  waitpid(bystander, nullptr, 0);
}

}  // namespace
}  // namespace sprout::testing
