// Cancels one API call when its client goes away. A running invocation
// polls fd() (the sandbox is killed when it turns readable); a call that
// waits without a thread (a queued invocation, a GetResult wait) registers
// a hook that cancel() runs. Thread-safe; cancel() is idempotent.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "base/unique_fd.h"

namespace sprout::supervisor {

class CallCancellation {
 public:
  // Fails only when no eventfd can be made (descriptor exhaustion): the
  // call then runs without cancellation by fd, hooks still work.
  static std::shared_ptr<CallCancellation> create();

  // Readable once cancelled; -1 when no eventfd could be made.
  int fd() const { return event_.get(); }
  bool cancelled();

  // Runs `hook` when the call is cancelled, at once if it already is.
  // Returns an id for forget(). Hooks run without this object's lock.
  uint64_t on_cancel(std::function<void()> hook);
  // Drops a hook that is no longer needed (the wait it undoes is over).
  void forget(uint64_t hook_id);

  void cancel();

 private:
  explicit CallCancellation(UniqueFd event) : event_(std::move(event)) {}

  UniqueFd event_;
  std::mutex mutex_;
  bool cancelled_ = false;
  uint64_t next_hook_ = 1;
  std::map<uint64_t, std::function<void()>> hooks_;
};

}  // namespace sprout::supervisor
