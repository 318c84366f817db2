#include "supervisor/scheduler.h"

#include <algorithm>

namespace sprout::supervisor {
namespace {

std::chrono::microseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace

Scheduler::Scheduler(uint32_t max_live, uint32_t max_queue, std::chrono::milliseconds queue_timeout)
    : max_live_(max_live),
      max_queue_(max_queue),
      queue_timeout_(queue_timeout),
      expiry_([this] { expire_waiters(); }) {}

Scheduler::~Scheduler() {
  start_draining();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queue_changed_.notify_all();
  expiry_.join();
}

bool Scheduler::has_capacity_locked(const std::string& function, uint32_t max_concurrency) {
  auto it = live_by_function_.find(function);
  uint32_t running = it == live_by_function_.end() ? 0 : it->second;
  return live_ < max_live_ && running < max_concurrency;
}

Scheduler::Slot Scheduler::take_locked(const std::string& function) {
  ++live_;
  ++live_by_function_[function];
  return Slot(this, function);
}

void Scheduler::admit_waiters_locked(std::vector<Decided>* decided) {
  for (auto it = queue_.begin(); it != queue_.end() && live_ < max_live_;) {
    if (!has_capacity_locked(it->function, it->max_concurrency)) {
      ++it;
      continue;
    }
    decided->push_back(
        {std::move(it->decide), Admission::kAdmitted, take_locked(it->function), since(it->queued_at)});
    it = queue_.erase(it);
  }
}

void Scheduler::run(std::vector<Decided>& decided) {
  for (auto& d : decided) d.decide(d.admission, std::move(d.slot), d.waited);
}

uint64_t Scheduler::request(const std::string& function, uint32_t max_concurrency,
                            Decision decide) {
  std::unique_lock lock(mutex_);
  if (draining_) {
    lock.unlock();
    decide(Admission::kDraining, Slot(), {});
    return 0;
  }
  if (queue_.empty() && has_capacity_locked(function, max_concurrency)) {
    Slot slot = take_locked(function);
    lock.unlock();
    decide(Admission::kAdmitted, std::move(slot), {});
    return 0;
  }
  if (queue_.size() >= max_queue_) {
    ++refusals_.queue_full;
    lock.unlock();
    decide(Admission::kQueueFull, Slot(), {});
    return 0;
  }
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(
      {ticket, function, max_concurrency, std::chrono::steady_clock::now(), std::move(decide)});
  // A waiter of another function may be at its limit while this one can
  // run: admit what can run now rather than wait for the next release.
  std::vector<Decided> decided;
  admit_waiters_locked(&decided);
  lock.unlock();
  queue_changed_.notify_all();
  run(decided);
  return ticket;
}

bool Scheduler::cancel(uint64_t ticket) {
  std::vector<Decided> decided;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(queue_.begin(), queue_.end(),
                           [&](const Waiter& w) { return w.ticket == ticket; });
    if (it == queue_.end()) return false;
    queue_.erase(it);
    admit_waiters_locked(&decided);  // the next in line may now be first
  }
  run(decided);
  return true;
}

void Scheduler::release(const std::string& function) {
  std::vector<Decided> decided;
  {
    std::lock_guard lock(mutex_);
    --live_;
    if (--live_by_function_[function] == 0) live_by_function_.erase(function);
    admit_waiters_locked(&decided);
  }
  run(decided);
}

void Scheduler::expire_waiters() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      queue_changed_.wait(lock);
      continue;
    }
    // FIFO with one timeout: the front waiter is always the first to expire.
    const auto deadline = queue_.front().queued_at + queue_timeout_;
    if (std::chrono::steady_clock::now() < deadline) {
      queue_changed_.wait_until(lock, deadline);
      continue;
    }
    std::vector<Decided> decided;
    const auto now = std::chrono::steady_clock::now();
    while (!queue_.empty() && queue_.front().queued_at + queue_timeout_ <= now) {
      Waiter& waiter = queue_.front();
      decided.push_back(
          {std::move(waiter.decide), Admission::kQueueTimeout, Slot(), since(waiter.queued_at)});
      queue_.pop_front();
      ++refusals_.queue_timeout;
    }
    admit_waiters_locked(&decided);
    lock.unlock();
    run(decided);
    lock.lock();
  }
}

void Scheduler::start_draining() {
  std::vector<Decided> decided;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    for (auto& waiter : queue_)
      decided.push_back(
          {std::move(waiter.decide), Admission::kDraining, Slot(), since(waiter.queued_at)});
    queue_.clear();
  }
  queue_changed_.notify_all();
  run(decided);
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

Scheduler::Refusals Scheduler::refusals() {
  std::lock_guard lock(mutex_);
  return refusals_;
}

}  // namespace sprout::supervisor
