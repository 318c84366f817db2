#include "host/sandbox_process.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

#include "sandbox/seccomp_policy.h"

namespace sprout {
namespace {

int pidfd_send_sigkill(int pidfd) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0));
}

// utime + stime of the zombie and its reaped children, from /proc/<pid>/stat.
// Used for CPU time where no cpu accounting cgroup is available.
uint64_t zombie_cpu_time_us(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(close_paren + 2));
  std::string field;
  uint64_t ticks = 0;
  // Fields after "comm": state is field 3; utime..cstime are fields 14..17.
  for (int index = 3; index <= 17 && fields >> field; ++index) {
    if (index >= 14) ticks += std::stoull(field);
  }
  return ticks * 1000000 / sysconf(_SC_CLK_TCK);
}

// PIDFD_GET_INFO (Linux 6.15+; not in Debian 12's headers): what a pidfd
// tells a process that is not the parent, such as sproutd about a sandbox
// that a function snapshot forked as its own child.
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;  // a wait status, as waitpid(2) gives it
};
static_assert(sizeof(PidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");
constexpr uint64_t kPidfdInfoExit = 1ull << 3;
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);

}  // namespace

std::optional<int> exit_status_from_pidfd(int pidfd, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    PidfdInfo info{};
    info.mask = kPidfdInfoExit;
    if (ioctl(pidfd, kPidfdGetInfo, &info) != 0 && errno != ESRCH) {
      return std::nullopt;  // a kernel without PIDFD_GET_INFO
    }
    if (info.mask & kPidfdInfoExit) return info.exit_code;
    // Exited but not yet reaped by its parent: the status is published at
    // the reap, which a snapshot does as soon as it sees SIGCHLD.
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    poll(nullptr, 0, 2);
  }
}

std::string Outcome::describe() const {
  if (!status_known && (kind == OutcomeKind::kExited || kind == OutcomeKind::kSignaled))
    return "ended (its exit status was not available)";
  switch (kind) {
    case OutcomeKind::kExited:
      return "exited with status " + std::to_string(exit_code);
    case OutcomeKind::kSignaled:
      return std::string("killed by signal ") + sigabbrev_np(signal);
    case OutcomeKind::kSeccompViolation:
      return "seccomp violation: " + (syscall >= 0 ? syscall_name : std::string("syscall unknown"));
    case OutcomeKind::kOutOfMemory:
      return "out of memory (peak " + std::to_string(peak_memory_bytes >> 20) + " MiB)";
    case OutcomeKind::kDeadlineExceeded:
      return "deadline exceeded after " + std::to_string(wall_time_us / 1000) + " ms";
    case OutcomeKind::kKilled:
      return "killed on request";
  }
  return "?";
}

Sandbox::Sandbox(pid_t pid, UniqueFd pidfd, UniqueFd seccomp_listener, CgroupLease cgroup,
                 std::chrono::steady_clock::time_point started, uint32_t deadline_ms)
    : pid_(pid),
      pidfd_(std::move(pidfd)),
      seccomp_listener_(std::move(seccomp_listener)),
      cgroup_(std::move(cgroup)),
      started_(started),
      deadline_ms_(deadline_ms) {}

Sandbox::~Sandbox() {
  if (pidfd_ && !reaped_) {
    pidfd_send_sigkill(pidfd_.get());
    siginfo_t info;
    if (retry_eintr([&] {
          return waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED);
        }) != 0) {
      // Not our child (its snapshot reaps it): wait for the end, so that its
      // cgroup goes back to the pool empty.
      pollfd exited{pidfd_.get(), POLLIN, 0};
      retry_eintr([&] { return poll(&exited, 1, kForeignReapWaitMs); });
    }
  }
}

Result<void> Sandbox::kill() {
  if (reaped_) return {};
  killed_on_request_ = true;
  if (pidfd_send_sigkill(pidfd_.get()) != 0 && errno != ESRCH) {
    return os_error("kill sandbox", std::to_string(pid_));
  }
  return {};
}

void Sandbox::handle_seccomp_notification() {
  // The kernel's struct may be larger than our headers' one: ask its size.
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
    sizes.seccomp_notif = sizeof(seccomp_notif);
  std::vector<char> buffer(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)), 0);
  auto* notification = reinterpret_cast<seccomp_notif*>(buffer.data());
  if (ioctl(seccomp_listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, notification) == 0) {
    if (violating_syscall_ == -2) violating_syscall_ = notification->data.nr;
  }
  // The call never ran and never will: the sandbox ends here. No reply is
  // sent; killing the sandbox releases the blocked thread.
  pidfd_send_sigkill(pidfd_.get());
}

int Sandbox::deadline_remaining_ms() const {
  if (deadline_ms_ == 0 || killed_at_deadline_) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      started_ + std::chrono::milliseconds(deadline_ms_) - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

void Sandbox::kill_at_deadline() {
  killed_at_deadline_ = true;
  pidfd_send_sigkill(pidfd_.get());
}

void Sandbox::restart_clock(uint32_t deadline_ms) {
  started_ = std::chrono::steady_clock::now();
  deadline_ms_ = deadline_ms;
}

Sandbox::Parts Sandbox::release() && {
  reaped_ = true;  // nothing left for the destructor
  return Parts{pid_, std::move(pidfd_), std::move(seccomp_listener_), std::move(cgroup_)};
}

Result<Outcome> Sandbox::wait() {
  if (reaped_) return plain_error("wait for sandbox", "already reaped");
  for (;;) {
    pollfd fds[2] = {{pidfd_.get(), POLLIN, 0}, {seccomp_listener_.get(), POLLIN, 0}};
    int ready = poll(fds, seccomp_listener_ ? 2 : 1, deadline_remaining_ms());
    if (ready < 0) {
      if (errno == EINTR) continue;
      return os_error("poll sandbox", std::to_string(pid_));
    }
    if (ready == 0) {
      kill_at_deadline();
      continue;
    }
    if (seccomp_listener_ && (fds[1].revents & POLLIN)) handle_seccomp_notification();
    if (seccomp_listener_ && (fds[1].revents & (POLLHUP | POLLERR))) seccomp_listener_.reset();
    if (fds[0].revents & POLLIN) return reap();
  }
}

void Sandbox::discard_after_exit() {
  if (reaped_) return;
  siginfo_t info;
  // Reaps it if it is our child; a snapshot's sandbox is reaped by its snapshot.
  retry_eintr([&] {
    return waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED | WNOHANG);
  });
  reaped_ = true;
  seccomp_listener_.reset();
  cgroup_ = CgroupLease{};
}

Result<Outcome> Sandbox::reap() {
  Outcome outcome;
  siginfo_t info{};
  uint64_t zombie_cpu_us = 0;
  // WNOWAIT first: the zombie's /proc entry still holds its CPU times.
  if (retry_eintr([&] {
        return waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED | WNOWAIT);
      }) == 0) {
    zombie_cpu_us = zombie_cpu_time_us(pid_);
    if (retry_eintr([&] {
          return waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED);
        }) != 0) {
      return os_error("waitid", std::to_string(pid_));
    }
  } else if (errno == ECHILD) {
    // Not our child: a function snapshot forked it and reaps it. Its exit
    // status comes from the pidfd once the snapshot has reaped it.
    std::optional<int> status = exit_status_from_pidfd(pidfd_.get(), kForeignReapWaitMs);
    outcome.status_known = status.has_value();
    const int wait_status = status.value_or(0);
    info.si_code = WIFEXITED(wait_status) ? CLD_EXITED : CLD_KILLED;
    info.si_status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : WTERMSIG(wait_status);
  } else {
    return os_error("waitid", std::to_string(pid_));
  }
  reaped_ = true;
  outcome.wall_time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - started_)
                             .count();
  outcome.cpu_time_us = zombie_cpu_us;
  if (cgroup_) {
    CgroupUsage usage = cgroup_->read_usage();
    outcome.oom_kills = usage.oom_kills;
    outcome.peak_memory_bytes = usage.peak_memory_bytes;
    if (usage.cpu_known) outcome.cpu_time_us = usage.cpu_time_us;
  }
  // A pending notification that raced with the exit still names the call.
  if (seccomp_listener_ && violating_syscall_ == -2) {
    pollfd fd{seccomp_listener_.get(), POLLIN, 0};
    if (poll(&fd, 1, 0) == 1 && (fd.revents & POLLIN)) handle_seccomp_notification();
  }

  const bool exited = info.si_code == CLD_EXITED;
  if (exited)
    outcome.exit_code = info.si_status;
  else
    outcome.signal = info.si_status;

  if (violating_syscall_ != -2) {
    outcome.kind = OutcomeKind::kSeccompViolation;
    outcome.syscall = violating_syscall_;
    outcome.syscall_name = syscall_name(violating_syscall_);
  } else if (killed_at_deadline_) {
    outcome.kind = OutcomeKind::kDeadlineExceeded;
  } else if (!exited && outcome.signal == SIGSYS) {
    outcome.kind = OutcomeKind::kSeccompViolation;  // kill-mode filter: call unknown
  } else if (outcome.oom_kills > 0 && !(exited && outcome.exit_code == 0)) {
    outcome.kind = OutcomeKind::kOutOfMemory;
  } else if (killed_on_request_) {
    outcome.kind = OutcomeKind::kKilled;
  } else {
    outcome.kind = exited ? OutcomeKind::kExited : OutcomeKind::kSignaled;
  }
  seccomp_listener_.reset();
  cgroup_ = CgroupLease{};  // back to the pool, now empty
  return outcome;
}

}  // namespace sprout
