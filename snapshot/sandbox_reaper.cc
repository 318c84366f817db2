#include "snapshot/sandbox_reaper.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace sprout {

SandboxReaper& SandboxReaper::instance() {
  static SandboxReaper reaper;
  return reaper;
}

SandboxReaper::SandboxReaper() : wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { run(); });
}

SandboxReaper::~SandboxReaper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_.get(), &one, sizeof one);
  thread_.join();
}

void SandboxReaper::adopt(Sandbox sandbox) {
  (void)sandbox.kill();
  {
    std::lock_guard lock(mutex_);
    incoming_.push_back(std::move(sandbox));
    ++pending_;
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_.get(), &one, sizeof one);
}

void SandboxReaper::wait_until_empty() {
  std::unique_lock lock(mutex_);
  emptied_.wait(lock, [this] { return pending_ == 0; });
}

size_t SandboxReaper::pending() {
  std::lock_guard lock(mutex_);
  return pending_;
}

void SandboxReaper::run() {
  std::vector<Sandbox> dying;
  for (;;) {
    std::vector<pollfd> fds{{wake_.get(), POLLIN, 0}};
    for (const auto& sandbox : dying) fds.push_back({sandbox.pidfd(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    // Reap first, while `fds` still lines up with `dying`.
    size_t reaped = 0;
    for (size_t i = dying.size(); i-- > 0;) {
      if (!(fds[i + 1].revents & (POLLIN | POLLHUP))) continue;
      dying[i].discard_after_exit();  // returns the cgroup lease to its pool
      dying.erase(dying.begin() + static_cast<long>(i));
      ++reaped;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      [[maybe_unused]] auto n = read(wake_.get(), &count, sizeof count);
    }
    std::lock_guard lock(mutex_);
    for (auto& sandbox : incoming_) dying.push_back(std::move(sandbox));
    incoming_.clear();
    pending_ -= reaped;
    if (pending_ == 0) emptied_.notify_all();
    if (stopping_ && dying.empty()) return;
  }
}

}  // namespace sprout
