#include "supervisor/scheduler.h"

#include <algorithm>

namespace sprout::supervisor {

bool Scheduler::has_capacity_locked(const std::string& function, uint32_t max_concurrency) {
  auto it = live_by_function_.find(function);
  uint32_t running = it == live_by_function_.end() ? 0 : it->second;
  return live_ < max_live_ && running < max_concurrency;
}

// FIFO among those who could run now: a waiter whose function is at its own
// limit does not hold up waiters of other functions.
bool Scheduler::first_eligible_locked(uint64_t ticket) {
  for (const auto& waiter : queue_) {
    if (!has_capacity_locked(waiter.function, waiter.max_concurrency)) continue;
    return waiter.ticket == ticket;
  }
  return false;
}

Scheduler::Admission Scheduler::admit(const std::string& function, uint32_t max_concurrency,
                                      Slot* slot, std::chrono::microseconds* waited) {
  const auto begin = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  *waited = std::chrono::microseconds(0);
  if (draining_) return Admission::kDraining;
  auto take = [&] {
    ++live_;
    ++live_by_function_[function];
    *slot = Slot(this, function);
  };
  if (queue_.empty() && has_capacity_locked(function, max_concurrency)) {
    take();
    return Admission::kAdmitted;
  }
  if (queue_.size() >= max_queue_) return Admission::kQueueFull;
  const uint64_t ticket = next_ticket_++;
  queue_.push_back({ticket, function, max_concurrency});
  const auto deadline = begin + queue_timeout_;
  bool admitted = changed_.wait_until(lock, deadline,
                                      [&] { return draining_ || first_eligible_locked(ticket); });
  queue_.erase(std::find_if(queue_.begin(), queue_.end(),
                            [&](const Waiter& w) { return w.ticket == ticket; }));
  *waited = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  begin);
  if (draining_) {
    changed_.notify_all();
    return Admission::kDraining;
  }
  if (!admitted) {
    changed_.notify_all();  // the next in line may now be first
    return Admission::kQueueTimeout;
  }
  take();
  changed_.notify_all();
  return Admission::kAdmitted;
}

void Scheduler::release(const std::string& function) {
  {
    std::lock_guard lock(mutex_);
    --live_;
    if (--live_by_function_[function] == 0) live_by_function_.erase(function);
  }
  changed_.notify_all();
}

void Scheduler::start_draining() {
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
  }
  changed_.notify_all();
}

uint32_t Scheduler::live() {
  std::lock_guard lock(mutex_);
  return live_;
}

uint32_t Scheduler::live(const std::string& function) {
  std::lock_guard lock(mutex_);
  auto it = live_by_function_.find(function);
  return it == live_by_function_.end() ? 0 : it->second;
}

uint32_t Scheduler::queued() {
  std::lock_guard lock(mutex_);
  return static_cast<uint32_t>(queue_.size());
}

}  // namespace sprout::supervisor
