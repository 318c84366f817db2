// A running sandbox: its pidfd, its seccomp listener, its cgroup lease, and
// the classification of how it ended. Not thread-safe; one owner.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/errors.h"
#include "base/unique_fd.h"
#include "host/cgroup_pool.h"

namespace sprout {

enum class OutcomeKind {
  kExited,            // exit_code holds the status
  kSignaled,          // killed by `signal` (not by us)
  kSeccompViolation,  // a fatal seccomp rule; `syscall` when known
  kOutOfMemory,       // the cgroup's OOM killer struck
  kDeadlineExceeded,  // killed by the spawner at the wall-clock deadline
  kKilled,            // killed on request (kill())
};

struct Outcome {
  OutcomeKind kind = OutcomeKind::kExited;
  int exit_code = -1;
  int signal = 0;
  int syscall = -1;          // seccomp violations: the syscall number, -1 unknown
  std::string syscall_name;  // "finit_module"
  uint64_t wall_time_us = 0;
  uint64_t cpu_time_us = 0;
  uint64_t peak_memory_bytes = 0;  // 0 when no memory controller
  uint64_t oom_kills = 0;
  // False when the sandbox was not our child and the kernel could not tell
  // its exit status (before Linux 6.15, or its parent did not reap it).
  bool status_known = true;

  std::string describe() const;  // "exited with status 3", "seccomp violation: finit_module"
};

// The wait status of a process that is not our child, from its pidfd
// (PIDFD_GET_INFO, Linux 6.15+), once its parent has reaped it; waits up to
// `timeout_ms` for that reap. nullopt when the kernel cannot tell.
std::optional<int> exit_status_from_pidfd(int pidfd, int timeout_ms);

class Sandbox {
 public:
  // How long a sandbox that is not our child may take to be reaped by its
  // parent (a function snapshot) before its status is reported unknown.
  static constexpr int kForeignReapWaitMs = 2000;

  Sandbox(pid_t pid, UniqueFd pidfd, UniqueFd seccomp_listener, CgroupLease cgroup,
          std::chrono::steady_clock::time_point started, uint32_t deadline_ms);
  Sandbox(Sandbox&&) noexcept = default;
  Sandbox& operator=(Sandbox&&) noexcept = default;
  // Kills and reaps the sandbox if it still runs: nothing outlives its owner.
  ~Sandbox();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  int seccomp_listener() const { return seccomp_listener_.get(); }
  SandboxCgroup* cgroup() const { return cgroup_.get(); }

  // Blocks until the sandbox ends, enforcing its deadline and its fatal
  // seccomp rules, then reaps it and classifies the outcome.
  Result<Outcome> wait();
  // SIGKILL to the sandbox's init: the kernel then kills every process of its
  // pid namespace, double-forked daemons included.
  Result<void> kill();

  // Pieces of wait() for callers that run their own poll loop (invocations
  // watch the sandbox's channel and log pipes too):
  // milliseconds left before the deadline; -1 when there is none.
  int deadline_remaining_ms() const;
  // Kill because the deadline passed; the outcome says so.
  void kill_at_deadline();
  // The listener is readable: record the syscall, kill the sandbox.
  void handle_seccomp_notification();
  void drop_seccomp_listener() { seccomp_listener_.reset(); }
  // A listener that arrives after the spawn (from a sandbox that set itself
  // up while its spawner went on).
  void set_seccomp_listener(UniqueFd listener) { seccomp_listener_ = std::move(listener); }
  // The pidfd is readable: reap and classify.
  Result<Outcome> reap();
  // The pidfd is readable and nobody needs the outcome (background reaping):
  // reap it if it is our child, give its cgroup back, never wait.
  void discard_after_exit();
  // Starts the clock anew (a pre-forked sandbox starts its deadline when it
  // receives its invocation, not when it was forked).
  void restart_clock(uint32_t deadline_ms);
  uint32_t deadline_ms() const { return deadline_ms_; }
  // Takes the lease of the cgroup the sandbox was placed in after its clone.
  void adopt_cgroup(CgroupLease cgroup) { cgroup_ = std::move(cgroup); }

  // Hands the descriptors and the lease over (a snapshot passes them to the
  // supervisor, which becomes the sandbox's parent through CLONE_PARENT).
  // The Sandbox is then empty and its destructor does nothing.
  struct Parts {
    pid_t pid;
    UniqueFd pidfd;
    UniqueFd seccomp_listener;
    CgroupLease cgroup;
  };
  Parts release() &&;

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd seccomp_listener_;
  CgroupLease cgroup_;
  std::chrono::steady_clock::time_point started_;
  uint32_t deadline_ms_ = 0;
  bool reaped_ = false;
  bool killed_at_deadline_ = false;
  bool killed_on_request_ = false;
  int violating_syscall_ = -2;  // -2: none seen
};

}  // namespace sprout
