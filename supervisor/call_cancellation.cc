#include "supervisor/call_cancellation.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace sprout::supervisor {

std::shared_ptr<CallCancellation> CallCancellation::create() {
  return std::shared_ptr<CallCancellation>(
      new CallCancellation(UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))));
}

bool CallCancellation::cancelled() {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

uint64_t CallCancellation::on_cancel(std::function<void()> hook) {
  {
    std::lock_guard lock(mutex_);
    if (!cancelled_) {
      const uint64_t id = next_hook_++;
      hooks_.emplace(id, std::move(hook));
      return id;
    }
  }
  hook();
  return 0;
}

void CallCancellation::forget(uint64_t hook_id) {
  std::lock_guard lock(mutex_);
  hooks_.erase(hook_id);
}

void CallCancellation::cancel() {
  std::map<uint64_t, std::function<void()>> hooks;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return;
    cancelled_ = true;
    hooks.swap(hooks_);
  }
  if (event_) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_.get(), &one, sizeof one);
  }
  for (auto& [id, hook] : hooks) hook();
}

}  // namespace sprout::supervisor
