// Admission of invocations: at most `max_concurrency` running per function
// and `max_live` in all. Beyond that an invocation waits in a bounded FIFO
// queue for at most `queue_timeout`; a full queue or a timed-out wait is
// THROTTLED. Thread-safe; admit() blocks the calling worker thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace sprout::supervisor {

class Scheduler {
 public:
  Scheduler(uint32_t max_live, uint32_t max_queue, std::chrono::milliseconds queue_timeout)
      : max_live_(max_live), max_queue_(max_queue), queue_timeout_(queue_timeout) {}

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

   private:
    Scheduler* scheduler_ = nullptr;
    std::string function_;
  };

  Admission admit(const std::string& function, uint32_t max_concurrency, Slot* slot,
                  std::chrono::microseconds* waited);
  void start_draining();
  uint32_t live();
  uint32_t live(const std::string& function);
  uint32_t queued();

 private:
  struct Waiter {
    uint64_t ticket;
    std::string function;
    uint32_t max_concurrency;
  };
  bool has_capacity_locked(const std::string& function, uint32_t max_concurrency);
  bool first_eligible_locked(uint64_t ticket);
  void release(const std::string& function);

  const uint32_t max_live_;
  const uint32_t max_queue_;
  const std::chrono::milliseconds queue_timeout_;
  std::mutex mutex_;
  std::condition_variable changed_;
  uint32_t live_ = 0;
  std::map<std::string, uint32_t> live_by_function_;
  std::deque<Waiter> queue_;
  uint64_t next_ticket_ = 0;
  bool draining_ = false;
};

}  // namespace sprout::supervisor
