// Admission of invocations: at most `max_concurrency` running per function
// and `max_live` in all. Beyond that an invocation waits in a bounded FIFO
// queue for at most `queue_timeout`; a full queue or a timed-out wait is
// THROTTLED.
//
// Waiting holds no thread: request() answers through a callback, at once
// when a slot is free, later from whichever thread frees one (or from the
// scheduler's own expiry thread at the timeout). A waiter whose client went
// away is taken out of the queue with cancel(). Thread-safe; callbacks are
// never called with the scheduler's lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sprout::supervisor {

class Scheduler {
 public:
  Scheduler(uint32_t max_live, uint32_t max_queue, std::chrono::milliseconds queue_timeout);
  ~Scheduler();  // ends waiters still queued as kDraining

  enum class Admission { kAdmitted, kQueueFull, kQueueTimeout, kDraining };

  // A running slot; releases itself.
  class Slot {
   public:
    Slot() = default;
    Slot(Scheduler* scheduler, std::string function)
        : scheduler_(scheduler), function_(std::move(function)) {}
    Slot(Slot&& other) noexcept
        : scheduler_(std::exchange(other.scheduler_, nullptr)),
          function_(std::move(other.function_)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        if (scheduler_) scheduler_->release(function_);
        scheduler_ = std::exchange(other.scheduler_, nullptr);
        function_ = std::move(other.function_);
      }
      return *this;
    }
    ~Slot() {
      if (scheduler_) scheduler_->release(function_);
    }
    bool held() const { return scheduler_ != nullptr; }

   private:
    Scheduler* scheduler_ = nullptr;
    std::string function_;
  };

  // Called once with the outcome; `slot` is held only when kAdmitted.
  using Decision = std::function<void(Admission, Slot slot, std::chrono::microseconds waited)>;

  // Asks for a slot. Returns 0 when decided at once (`decide` has then run
  // on this thread), else the ticket of the queued wait, for cancel().
  uint64_t request(const std::string& function, uint32_t max_concurrency, Decision decide);
  // Takes a queued wait out of the queue; its callback is never called.
  // False when it was already decided (admitted, timed out or drained).
  bool cancel(uint64_t ticket);

  void start_draining();
  uint32_t live();
  uint32_t live(const std::string& function);
  uint32_t queued();

  // Invocations refused since the start (THROTTLED), by reason; a drain's
  // refusals and cancelled waits are not counted.
  struct Refusals {
    uint64_t queue_full = 0;
    uint64_t queue_timeout = 0;
  };
  Refusals refusals();

 private:
  struct Waiter {
    uint64_t ticket;
    std::string function;
    uint32_t max_concurrency;
    std::chrono::steady_clock::time_point queued_at;
    Decision decide;
  };
  struct Decided {
    Decision decide;
    Admission admission;
    Slot slot;
    std::chrono::microseconds waited;
  };
  bool has_capacity_locked(const std::string& function, uint32_t max_concurrency);
  Slot take_locked(const std::string& function);
  // Admits every waiter that can run now, FIFO among those eligible: a
  // waiter whose function is at its own limit does not hold up others.
  void admit_waiters_locked(std::vector<Decided>* decided);
  static void run(std::vector<Decided>& decided);
  void release(const std::string& function);
  void expire_waiters();  // the expiry thread

  const uint32_t max_live_;
  const uint32_t max_queue_;
  const std::chrono::milliseconds queue_timeout_;
  std::mutex mutex_;
  std::condition_variable queue_changed_;  // wakes the expiry thread
  uint32_t live_ = 0;
  std::map<std::string, uint32_t> live_by_function_;
  std::deque<Waiter> queue_;
  uint64_t next_ticket_ = 1;
  Refusals refusals_;
  bool draining_ = false;
  bool stopping_ = false;
  std::thread expiry_;
};

}  // namespace sprout::supervisor
