// Keeps pools of pre-forked, warmed-up, never-used sandboxes sized to each
// function's demand, forking on a small pool of threads of its own.
//
// Sizing (Little's law): a caller finds a sandbox ready when the pool holds
// what arrives while one refill runs, so a recently used pool aims at
//   target = max(1, peak concurrency, ceil(arrival rate x refill time))
// within prefork_min..prefork_max, where the arrival rate is measured over
// one-second windows (the current one counts as soon as it exceeds the
// smoothed rate, so a burst grows the pool ahead of the next calls) and the
// refill time is the smoothed time from the fork command to a warm sandbox.
// A pool unused for a minute falls back to prefork_min; idle sandboxes above
// the target are released one per pass, so pools shrink back gradually.
//
// Refills: up to ceil(arrival rate x refill time) of one function run in
// parallel (no more than the keeper's threads, nor the cores but one: a
// refill competes with invocations for the CPU), each forking one sandbox at
// a time and queueing itself again behind the other functions' refills
// while its pool is short, so the threads go round all functions. A refill
// starts at once when an invocation takes a sandbox (the snapshot's demand
// hook), not on the next maintenance pass. After a failed fork (a snapshot
// that does not answer or warm up within its fork deadline, a dead
// snapshot, no cgroup leaf) the pool backs off: 1 s, doubling up to 30 s.
// A hostile function whose fork hooks block therefore holds at most its
// refills' threads, for at most its fork deadline per attempt, ever more
// rarely. No lock of sproutd is held while forking. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "snapshot/function_snapshot.h"
#include "supervisor/thread_pool.h"

namespace sprout::supervisor {

// What the sizing rule above reads of one pool.
struct PoolDemand {
  uint32_t min_idle = 0, max_idle = 0;  // prefork_min, prefork_max
  bool recently_used = false;           // invoked in the last minute
  uint32_t peak_concurrency = 0;
  double arrivals_per_s = 0;
  double refill_ms = 0;  // 0: not measured yet
};
// Little's law: the sandboxes in the pipeline (idle or being refilled) that
// cover the arrivals during one refill.
uint32_t sandboxes_in_pipeline(double arrivals_per_s, double refill_ms);
// The idle sandboxes the pool aims at.
uint32_t prefork_target(const PoolDemand& demand);

class PreforkKeeper {
 public:
  // The demand of one function version, and the state of its refills. Shared
  // by the version and its refills in flight.
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
    // With the keeper's mutex held: the sandboxes the pool should hold idle,
    // and how many refills may run at once.
    uint32_t target_locked(int64_t now_ms) const;
    uint32_t parallel_refills_locked() const;
    // With the keeper's mutex held: closes the demand window when it is over.
    void roll_window_locked(int64_t now_ms);
    void record_refill_locked(double refill_ms);

    const std::string name_;
    const uint32_t min_idle_, max_idle_;
    std::atomic<uint32_t> in_flight_{0};
    std::atomic<uint32_t> window_peak_{0};      // of in_flight_, this window
    std::atomic<uint32_t> window_arrivals_{0};  // invocations started, this window
    std::atomic<int64_t> last_invoked_ms_{-1};
    // Guarded by the keeper's mutex.
    int64_t window_start_ms_ = 0;
    uint32_t recent_peak_ = 0;      // the last full window's peak concurrency
    double arrivals_per_s_ = 0;     // smoothed over windows
    double current_rate_ = 0;       // the window in progress, once it counts
    double refill_ms_ = 0;          // smoothed; 0: none measured yet
    uint32_t refills_ = 0;          // queued or forking
    int64_t retry_at_ms_ = 0;
    int64_t backoff_ms_ = 0;        // 0: the last fork worked
  };

  explicit PreforkKeeper(uint32_t threads);
  // Refills in flight finish the fork they are in (bounded by its deadline);
  // queued ones are dropped.
  ~PreforkKeeper();

  // Called on every pass of the maintenance thread, for every function
  // version with a live snapshot, and by the snapshot's demand hook (which
  // the first call installs): queues refills while `snapshot` holds fewer
  // idle sandboxes than the pool's target, unless the pool backs off;
  // releases one idle sandbox above the target. Returns at once.
  void tend(const std::shared_ptr<Pool>& pool, const std::shared_ptr<FunctionSnapshot>& snapshot);

 private:
  // Forks one sandbox, then queues itself again while the pool is short.
  // Holds the snapshot weakly while queued: a function removed or evicted
  // meanwhile drops its snapshot at once.
  void refill(const std::shared_ptr<Pool>& pool,
              const std::weak_ptr<FunctionSnapshot>& weak_snapshot);

  const uint32_t thread_count_;
  const uint32_t parallel_limit_;  // refills of one function at once: threads, spare cores
  std::mutex mutex_;
  bool stopping_ = false;
  ThreadPool threads_;  // last: joined first, while the rest still exists
};

}  // namespace sprout::supervisor
