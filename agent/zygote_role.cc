// The runtime zygote: an exec'd, unprivileged, single-threaded process of one
// tenant that holds an initialized runtime and forks bare function snapshots
// from it. It runs only trusted code (the runtime and the operator's
// pre-imports) and never sees a function's code, environment or
// configuration: those go to each snapshot directly, on its own channel,
// once the snapshot is confined.
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "agent/roles.h"
#include "base/errors.h"
#include "base/log.h"
#include "protocol/message_channel.h"
#include "sandbox/seccomp_policy.h"

namespace sprout::agent {
namespace {

struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

// The snapshot's namespaces, created at the fork so that it is pid 1 of its
// own pid namespace (a fresh /proc, and everything it starts dies with it)
// and the owner of nothing outside its own user namespace. Its cgroup
// namespace comes later, once sproutd has placed it in its leaf.
constexpr uint64_t kSnapshotNamespaces =
    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

// Forks a snapshot that becomes a child of the supervisor (CLONE_PARENT), so
// that the supervisor reaps it and learns how it ended. Returns the pid
// (0 in the child) and the pidfd.
long fork_snapshot_for_supervisor(int* pidfd) {  // NOLINT(readability-non-const-parameter): the kernel writes it
  CloneArgs args{};
  args.flags = CLONE_PARENT | CLONE_PIDFD | kSnapshotNamespaces;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  return syscall(SYS_clone3, &args, sizeof args);
}

void handle_spawn(Runtime& runtime, int control_fd, std::vector<UniqueFd>& fds) {
  SnapshotSpawned spawned;
  if (fds.size() != 2) {
    spawned.set_error("SpawnSnapshot needs 2 descriptors, got " + std::to_string(fds.size()));
    (void)send_packet(control_fd, spawned);
    return;
  }
  int pidfd = -1;
  runtime.before_fork();
  long pid = fork_snapshot_for_supervisor(&pidfd);
  // Saved at once: the runtime's at-fork hooks (Python's os.register_at_fork
  // callbacks) run below and may change errno.
  const int fork_errno = errno;
  if (pid == 0) {
    runtime.after_fork_child();
    ::close(control_fd);
    run_function_snapshot(runtime, fds[0].release(), fds[1].release());
  }
  runtime.after_fork_parent();
  if (pid < 0) {
    spawned.set_error(os_error("clone3", "snapshot", fork_errno).error().message());
    (void)send_packet(control_fd, spawned);
    return;
  }
  UniqueFd owned_pidfd(pidfd);
  spawned.set_ok(true);
  spawned.set_snapshot_pid(static_cast<int32_t>(pid));
  (void)send_packet(control_fd, spawned, {owned_pidfd.get()});
}

}  // namespace

void run_zygote(Runtime& runtime, int control_fd, const std::vector<std::string>& pre_imports) {
  const auto begin = std::chrono::steady_clock::now();
  auto initialized = runtime.initialize(pre_imports);
  // Compiled once here, so that every snapshot and sandbox inherits ready
  // programs and none compiles (or fragments its heap) on its own.
  precompile_seccomp_programs();
  runtime.flush_output();
  ZygoteReady ready;
  ready.set_ok(initialized.has_value());
  if (!initialized) ready.set_error(initialized.error().message());
  ready.set_init_duration_us(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - begin)
                                 .count());
  if (!send_packet(control_fd, ready) || !initialized) _exit(1);

  for (;;) {
    ZygoteCommand command;
    std::vector<UniqueFd> fds;
    auto received = receive_packet(control_fd, command, &fds);
    if (!received) {
      if (!is_peer_closed(received.error()))
        log_line(LogLevel::kError, "zygote: " + received.error().message());
      _exit(0);
    }
    switch (command.command_case()) {
      case ZygoteCommand::kSpawn:
        handle_spawn(runtime, control_fd, fds);
        break;
      case ZygoteCommand::kShutdown:
        _exit(0);
      default:
        log_line(LogLevel::kWarning, "zygote: unknown command ignored");
    }
  }
}

}  // namespace sprout::agent
