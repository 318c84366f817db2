#include "supervisor/prefork_keeper.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "base/log.h"

namespace sprout::supervisor {
namespace {

constexpr int64_t kDemandWindowMs = 1000;  // arrivals and peak concurrency are counted per window
constexpr int64_t kRecentUseMs = 60000;    // unused longer: only prefork_min is kept
constexpr int64_t kFirstBackoffMs = 1000;  // after a failed fork
constexpr int64_t kLongestBackoffMs = 30000;
// Weight of the newest window (or refill) in the smoothed rate (refill time).
constexpr double kSmoothing = 0.5;
// A window in progress counts once it has run this long (a rate from a few
// milliseconds of arrivals would be noise).
constexpr int64_t kShortestRateWindowMs = 100;

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

uint32_t sandboxes_in_pipeline(double arrivals_per_s, double refill_ms) {
  const double in_pipeline = arrivals_per_s * refill_ms / 1000.0;
  return static_cast<uint32_t>(std::clamp(std::ceil(in_pipeline), 0.0, 1024.0));
}

uint32_t prefork_target(const PoolDemand& demand) {
  if (!demand.recently_used) return demand.min_idle;
  const uint32_t wanted = std::max(
      {1u, demand.peak_concurrency, sandboxes_in_pipeline(demand.arrivals_per_s, demand.refill_ms)});
  return std::clamp(wanted, demand.min_idle, std::max(demand.min_idle, demand.max_idle));
}

void PreforkKeeper::Pool::invocation_started() {
  const uint32_t now_in_flight = ++in_flight_;
  uint32_t peak = window_peak_.load();
  while (now_in_flight > peak && !window_peak_.compare_exchange_weak(peak, now_in_flight)) {
  }
  ++window_arrivals_;
  last_invoked_ms_ = steady_now_ms();
}

void PreforkKeeper::Pool::invocation_ended() { --in_flight_; }

void PreforkKeeper::Pool::roll_window_locked(int64_t now_ms) {
  const int64_t elapsed = now_ms - window_start_ms_;
  if (elapsed >= kDemandWindowMs) {
    const double rate = window_arrivals_.exchange(0) * 1000.0 / static_cast<double>(elapsed);
    // A window far in the past (no pass for a while) is a full window of
    // that rate; the smoothing keeps one busy or quiet second from swinging
    // the pool.
    arrivals_per_s_ = kSmoothing * rate + (1 - kSmoothing) * arrivals_per_s_;
    current_rate_ = 0;
    recent_peak_ = window_peak_.exchange(in_flight_.load());
    window_start_ms_ = now_ms;
  } else if (elapsed >= kShortestRateWindowMs) {
    current_rate_ = window_arrivals_.load() * 1000.0 / static_cast<double>(elapsed);
  }
}

void PreforkKeeper::Pool::record_refill_locked(double refill_ms) {
  refill_ms_ = refill_ms_ == 0 ? refill_ms : kSmoothing * refill_ms + (1 - kSmoothing) * refill_ms_;
}

uint32_t PreforkKeeper::Pool::target_locked(int64_t now_ms) const {
  const int64_t last_invoked = last_invoked_ms_.load();
  return prefork_target(PoolDemand{
      .min_idle = min_idle_,
      .max_idle = max_idle_,
      .recently_used = last_invoked >= 0 && now_ms - last_invoked < kRecentUseMs,
      .peak_concurrency = std::max(recent_peak_, window_peak_.load()),
      .arrivals_per_s = std::max(arrivals_per_s_, current_rate_),
      .refill_ms = refill_ms_,
  });
}

uint32_t PreforkKeeper::Pool::parallel_refills_locked() const {
  return std::max(1u, sandboxes_in_pipeline(std::max(arrivals_per_s_, current_rate_), refill_ms_));
}

namespace {
// Refills of one function that may run at once: the others' invocations
// need a core too. A refill is CPU work (fork, setup, warm-up); more of them
// than spare cores only slow the invocation they are meant to serve, and
// the refill time they stretch would ask for still more (measured on 2
// cores: a warm sandbox's run went from 30 to 46 ms with 3 refills beside it).
uint32_t spare_cores() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 1 ? cores - 1 : 1;
}
}  // namespace

PreforkKeeper::PreforkKeeper(uint32_t threads)
    : thread_count_(std::max<uint32_t>(1, threads)),
      parallel_limit_(std::min(thread_count_, spare_cores())),
      threads_(1, thread_count_) {}

PreforkKeeper::~PreforkKeeper() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
}

void PreforkKeeper::tend(const std::shared_ptr<Pool>& pool,
                         const std::shared_ptr<FunctionSnapshot>& snapshot) {
  if (!snapshot->has_demand_hook()) {
    // The snapshot calls back when an invocation takes a sandbox, so that
    // its replacement starts then. Invocations end before the keeper does
    // (FunctionManager's member order), so `this` outlives every call.
    snapshot->set_demand_hook(
        [this, pool, weak = std::weak_ptr<FunctionSnapshot>(snapshot)] {
          if (auto live = weak.lock()) tend(pool, live);
        });
  }
  const int64_t now = steady_now_ms();
  const size_t idle = snapshot->alive() ? snapshot->idle_count() : 0;
  uint32_t to_queue = 0;
  size_t keep = SIZE_MAX;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    pool->roll_window_locked(now);
    const uint32_t target = pool->target_locked(now);
    if (snapshot->alive() && idle + pool->refills_ < target && now >= pool->retry_at_ms_) {
      const uint32_t parallel = std::min(pool->parallel_refills_locked(), parallel_limit_);
      const uint32_t missing = target - static_cast<uint32_t>(idle) - pool->refills_;
      to_queue = pool->refills_ < parallel ? std::min(missing, parallel - pool->refills_) : 0;
      pool->refills_ += to_queue;
    }
    if (idle > target) keep = idle - 1;  // shrink back one per pass
  }
  for (uint32_t i = 0; i < to_queue; ++i) {
    threads_.post(
        [this, pool, weak = std::weak_ptr<FunctionSnapshot>(snapshot)] { refill(pool, weak); });
  }
  if (keep != SIZE_MAX) snapshot->release_idle(keep);
}

void PreforkKeeper::refill(const std::shared_ptr<Pool>& pool,
                           const std::weak_ptr<FunctionSnapshot>& weak_snapshot) {
  bool again = false;
  {
    std::shared_ptr<FunctionSnapshot> snapshot = weak_snapshot.lock();
    bool short_of_sandboxes = false;
    {
      std::lock_guard lock(mutex_);
      // Counting this refill among the sandboxes on their way.
      short_of_sandboxes = !stopping_ && snapshot && snapshot->alive() &&
                           snapshot->idle_count() + pool->refills_ - 1 <
                               pool->target_locked(steady_now_ms());
    }
    if (short_of_sandboxes) {
      auto forked = snapshot->prefork(1);  // no lock held: may take up to the fork deadline
      int64_t backoff_ms = 0;
      {
        std::lock_guard lock(mutex_);
        if (forked) {
          pool->record_refill_locked(static_cast<double>(forked->count()) / 1000.0);
          pool->backoff_ms_ = 0;
          again = true;
        } else {
          pool->backoff_ms_ = pool->backoff_ms_ == 0
                                  ? kFirstBackoffMs
                                  : std::min(pool->backoff_ms_ * 2, kLongestBackoffMs);
          pool->retry_at_ms_ = steady_now_ms() + pool->backoff_ms_;
          backoff_ms = pool->backoff_ms_;
        }
      }
      if (!forked) {
        // One line per attempt; the backoff keeps that rare.
        log_line(LogLevel::kWarning, "pre-fork " + pool->name_ + ": " + forked.error().message() +
                                         "; retrying in " + std::to_string(backoff_ms / 1000) +
                                         " s");
      }
    }
  }  // the snapshot is not held while queued
  std::lock_guard lock(mutex_);
  if (again && !stopping_) {
    threads_.post([this, pool, weak_snapshot] { refill(pool, weak_snapshot); });
  } else {
    --pool->refills_;
  }
}

}  // namespace sprout::supervisor
