#include "snapshot/child_process.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sprout {

ChildProcess::~ChildProcess() {
  if (pidfd_) stop(0);
}

void ChildProcess::reap_locked(bool block) {
  if (ended_ || !pidfd_) return;
  siginfo_t info{};
  int flags = WEXITED | (block ? 0 : WNOHANG);
  if (retry_eintr([&] {
        return waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, flags);
      }) != 0) {
    if (errno == ECHILD) ended_ = "gone (not our child)";
    return;
  }
  if (info.si_pid == 0) return;  // still running
  if (info.si_code == CLD_EXITED) {
    ended_ = "exited with status " + std::to_string(info.si_status);
  } else {
    ended_ = std::string("killed by signal ") + sigabbrev_np(info.si_status);
  }
}

bool ChildProcess::alive() {
  std::lock_guard lock(mutex_);
  if (ended_) return false;
  pollfd fd{pidfd_.get(), POLLIN, 0};
  if (poll(&fd, 1, 0) == 1) {
    reap_locked(true);
    return false;
  }
  return true;
}

std::string ChildProcess::end_description() {
  alive();
  std::lock_guard lock(mutex_);
  return ended_.value_or("running");
}

void ChildProcess::kill() {
  std::lock_guard lock(mutex_);
  if (!ended_ && pidfd_) syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
}

bool ChildProcess::wait_for_end(int timeout_ms) {
  pollfd fd{pidfd_.get(), POLLIN, 0};
  retry_eintr([&] { return poll(&fd, 1, timeout_ms); });
  return !alive();
}

void ChildProcess::stop(int timeout_ms) {
  {
    std::lock_guard lock(mutex_);
    if (ended_ || !pidfd_) return;
  }
  pollfd fd{pidfd_.get(), POLLIN, 0};
  if (timeout_ms <= 0 || poll(&fd, 1, timeout_ms) != 1) kill();
  std::lock_guard lock(mutex_);
  reap_locked(true);
}

}  // namespace sprout
