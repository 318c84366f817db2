// Reaps finished sandboxes off the invocation's critical path.
//
// A sandbox's end (its pid 1 exiting, which tears down its pid, mount,
// network, ipc and user namespaces and unmaps its copy of the snapshot) costs
// hundreds of microseconds. Once a sandbox has answered, the invocation
// returns at once and hands the sandbox here: it is killed, then reaped by
// one background thread, and its cgroup lease goes back to the pool.
// Thread-safe; one per process.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "host/sandbox_process.h"
#include "base/unique_fd.h"

namespace sprout {

class SandboxReaper {
 public:
  static SandboxReaper& instance();
  ~SandboxReaper();

  void adopt(Sandbox sandbox);
  // Blocks until every adopted sandbox is reaped (shutdown, tests).
  void wait_until_empty();
  size_t pending();

 private:
  SandboxReaper();
  void run();

  std::mutex mutex_;
  std::condition_variable emptied_;
  std::vector<Sandbox> incoming_;
  size_t pending_ = 0;
  bool stopping_ = false;
  UniqueFd wake_;  // eventfd: new sandboxes or stop
  std::thread thread_;
};

}  // namespace sprout
