// Keeps pools of pre-forked, never-used sandboxes sized to each function's
// recent demand, forking on a small pool of threads of its own.
//
// A refill forks one sandbox at a time and queues itself again behind the
// other functions' refills while its pool is short, so the threads go round
// all functions. Each function has at most one refill in flight, and after a
// failed fork (a snapshot that does not answer within its fork deadline, a
// dead snapshot, no cgroup leaf) it backs off: 1 s, doubling up to 30 s.
// A hostile function whose fork hooks block therefore holds at most one
// thread, for at most its fork deadline per attempt, ever more rarely; the
// other functions' refills go on. No lock of sproutd is held while forking.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "snapshot/function_snapshot.h"
#include "supervisor/thread_pool.h"

namespace sprout::supervisor {

class PreforkKeeper {
 public:
  // The demand of one function version, and the state of its refills. Shared
  // by the version and its refill in flight.
  class Pool {
   public:
    // `name`: "hello@3", for the logs. `min_idle`..`max_idle`: the pool's
    // size bounds (prefork_min, prefork_max of the spec).
    Pool(std::string name, uint32_t min_idle, uint32_t max_idle)
        : name_(std::move(name)), min_idle_(min_idle), max_idle_(max_idle) {}

    void invocation_started();
    void invocation_ended();
    uint32_t in_flight() const { return in_flight_.load(); }

   private:
    friend class PreforkKeeper;
    // The peak concurrency of the current window, or 1 if the function was
    // invoked in the last minute, within min_idle..max_idle.
    uint32_t target(int64_t now_ms) const;

    const std::string name_;
    const uint32_t min_idle_, max_idle_;
    std::atomic<uint32_t> in_flight_{0};
    std::atomic<uint32_t> recent_peak_{0};  // of in_flight_, this window
    std::atomic<int64_t> last_invoked_ms_{-1};
    // Guarded by the keeper's mutex.
    int64_t window_start_ms_ = 0;
    bool refilling_ = false;  // a refill is queued or forking
    int64_t retry_at_ms_ = 0;
    int64_t backoff_ms_ = 0;  // 0: the last fork worked
  };

  explicit PreforkKeeper(uint32_t threads);
  // Refills in flight finish the fork they are in (bounded by its deadline);
  // queued ones are dropped.
  ~PreforkKeeper();

  // Called on every pass of the maintenance thread, for every function
  // version with a live snapshot: queues a refill when `snapshot` holds
  // fewer idle sandboxes than the pool's target, unless one is in flight or
  // the pool backs off; rolls the pool's demand window. Returns at once.
  void tend(const std::shared_ptr<Pool>& pool, const std::shared_ptr<FunctionSnapshot>& snapshot);

 private:
  // Forks one sandbox, then queues itself again while the pool is short.
  // Holds the snapshot weakly while queued: a function removed or evicted
  // meanwhile drops its snapshot at once.
  void refill(const std::shared_ptr<Pool>& pool,
              const std::weak_ptr<FunctionSnapshot>& weak_snapshot);

  std::mutex mutex_;
  bool stopping_ = false;
  ThreadPool threads_;  // last: joined first, while the rest still exists
};

}  // namespace sprout::supervisor
