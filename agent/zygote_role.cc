// The runtime zygote: an exec'd, unprivileged, single-threaded process that
// holds an initialized runtime and forks function snapshots from it.
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "agent/roles.h"
#include "sandbox/log.h"
#include "sandbox/message_channel.h"

namespace sprout::agent {
namespace {

struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

// Forks a snapshot that becomes a child of the supervisor (CLONE_PARENT), so
// that the supervisor reaps it and learns how it ended. Returns the pid
// (0 in the child) and the pidfd.
long fork_for_supervisor(int* pidfd) {
  CloneArgs args{};
  args.flags = CLONE_PARENT | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  return syscall(SYS_clone3, &args, sizeof args);
}

void handle_load(Runtime& runtime, int control_fd, const LoadFunction& load,
                 std::vector<UniqueFd>& fds) {
  LoadStarted started;
  if (fds.size() != 3) {
    started.set_error("LoadFunction needs 3 descriptors, got " + std::to_string(fds.size()));
    (void)send_packet(control_fd, started);
    return;
  }
  int pidfd = -1;
  runtime.before_fork();
  long pid = fork_for_supervisor(&pidfd);
  if (pid == 0) {
    runtime.after_fork_child();
    ::close(control_fd);
    run_function_snapshot(runtime, load, fds[0].release(), fds[1].release(), fds[2].release());
  }
  runtime.after_fork_parent();
  if (pid < 0) {
    started.set_error(std::string("clone3 snapshot: ") + strerror(errno));
    (void)send_packet(control_fd, started);
    return;
  }
  UniqueFd owned_pidfd(pidfd);
  started.set_ok(true);
  started.set_snapshot_pid(static_cast<int32_t>(pid));
  (void)send_packet(control_fd, started, {owned_pidfd.get()});
}

}  // namespace

void run_zygote(Runtime& runtime, int control_fd, const std::vector<std::string>& pre_imports) {
  const auto begin = std::chrono::steady_clock::now();
  auto initialized = runtime.initialize(pre_imports);
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
      case ZygoteCommand::kLoad:
        handle_load(runtime, control_fd, command.load(), fds);
        break;
      case ZygoteCommand::kShutdown:
        _exit(0);
      default:
        log_line(LogLevel::kWarning, "zygote: unknown command ignored");
    }
  }
}

}  // namespace sprout::agent
