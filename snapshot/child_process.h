// A direct child process (a zygote or a function snapshot) watched through
// its pidfd. alive() never blocks; a dead child is reaped once and its end
// described ("killed by signal SIGKILL"). The destructor kills and reaps.
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>

#include "base/unique_fd.h"

namespace sprout {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool alive();
  // How it ended, or "running".
  std::string end_description();
  void kill();
  // Waits up to `timeout_ms` for an exit, then kills; reaps either way.
  void stop(int timeout_ms);
  // Waits up to `timeout_ms` for an exit already under way (a closed
  // channel); false if it still runs.
  bool wait_for_end(int timeout_ms);

 private:
  void reap_locked(bool block);

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::mutex mutex_;
  std::optional<std::string> ended_;
};

}  // namespace sprout
