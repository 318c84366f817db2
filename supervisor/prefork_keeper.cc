#include "supervisor/prefork_keeper.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"

namespace sprout::supervisor {
namespace {

constexpr int64_t kDemandWindowMs = 2000;  // peak concurrency is measured over this
constexpr int64_t kRecentUseMs = 60000;    // unused longer: only prefork_min is kept
constexpr int64_t kFirstBackoffMs = 1000;  // after a failed fork
constexpr int64_t kLongestBackoffMs = 30000;

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void PreforkKeeper::Pool::invocation_started() {
  const uint32_t now_in_flight = ++in_flight_;
  uint32_t peak = recent_peak_.load();
  while (now_in_flight > peak && !recent_peak_.compare_exchange_weak(peak, now_in_flight)) {
  }
  last_invoked_ms_ = steady_now_ms();
}

void PreforkKeeper::Pool::invocation_ended() { --in_flight_; }

uint32_t PreforkKeeper::Pool::target(int64_t now_ms) const {
  const int64_t last_invoked = last_invoked_ms_.load();
  const bool recently_used = last_invoked >= 0 && now_ms - last_invoked < kRecentUseMs;
  const uint32_t demand = recently_used ? std::max<uint32_t>(1, recent_peak_.load()) : 0;
  return std::clamp(demand, min_idle_, std::max(min_idle_, max_idle_));
}

PreforkKeeper::PreforkKeeper(uint32_t threads) : threads_(1, std::max<uint32_t>(1, threads)) {}

PreforkKeeper::~PreforkKeeper() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
}

void PreforkKeeper::tend(const std::shared_ptr<Pool>& pool,
                         const std::shared_ptr<FunctionSnapshot>& snapshot) {
  const int64_t now = steady_now_ms();
  const bool short_of_sandboxes = snapshot->alive() && snapshot->idle_count() < pool->target(now);
  bool queue_refill = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (short_of_sandboxes && !pool->refilling_ && now >= pool->retry_at_ms_) {
      pool->refilling_ = true;
      queue_refill = true;
    }
    if (now - pool->window_start_ms_ >= kDemandWindowMs) {
      pool->recent_peak_ = pool->in_flight_.load();
      pool->window_start_ms_ = now;
    }
  }
  if (queue_refill) {
    threads_.post(
        [this, pool, weak = std::weak_ptr<FunctionSnapshot>(snapshot)] { refill(pool, weak); });
  }
}

void PreforkKeeper::refill(const std::shared_ptr<Pool>& pool,
                           const std::weak_ptr<FunctionSnapshot>& weak_snapshot) {
  bool again = false;
  {
    std::shared_ptr<FunctionSnapshot> snapshot = weak_snapshot.lock();
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
    }
    if (!stopping && snapshot && snapshot->alive() &&
        snapshot->idle_count() < pool->target(steady_now_ms())) {
      auto forked = snapshot->prefork(1);  // no lock held: may take up to the fork deadline
      int64_t backoff_ms = 0;
      {
        std::lock_guard lock(mutex_);
        if (forked) {
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
    pool->refilling_ = false;
  }
}

}  // namespace sprout::supervisor
