#include "supervisor/async_results.h"

#include <sys/random.h>

#include <cstdio>
#include <utility>
#include <cstdlib>

namespace sprout::supervisor {
namespace {

std::string random_id() {
  unsigned char bytes[16];
  if (getrandom(bytes, sizeof bytes, 0) != sizeof bytes) return std::to_string(std::rand());
  char text[33];
  for (int i = 0; i < 16; ++i) snprintf(text + 2 * i, 3, "%02x", bytes[i]);
  return text;
}

}  // namespace

struct AsyncResults::Entry {
  std::mutex mutex;
  bool done = false;
  api::InvokeResponse response;
  AsyncResults* results = nullptr;
  uint64_t next_wait = 1;
  std::map<uint64_t, Answer> waits;
};

namespace {

api::GetResultResponse finished_result(const api::InvokeResponse& response) {
  api::GetResultResponse result;
  result.set_done(true);
  *result.mutable_result() = response;
  return result;
}

}  // namespace

void AsyncResults::Pending::finish(api::InvokeResponse response) const {
  std::map<uint64_t, Answer> waits;
  {
    std::lock_guard lock(entry_->mutex);
    entry_->response = std::move(response);
    entry_->done = true;
    waits.swap(entry_->waits);
    entry_->results->waiting_ -= static_cast<uint32_t>(waits.size());
  }
  // Outside the lock: an answer writes to a client connection.
  for (auto& [id, answer] : waits) answer(finished_result(entry_->response));
}

void AsyncResults::Wait::withdraw() const {
  if (!entry_) return;
  std::lock_guard lock(entry_->mutex);
  if (entry_->waits.erase(id_) != 0) --results_->waiting_;
}

AsyncResults::Pending AsyncResults::start() {
  auto entry = std::make_shared<Entry>();
  entry->results = this;
  std::string id = random_id();
  std::lock_guard lock(mutex_);
  entries_[id] = entry;
  order_.push_back(id);
  while (order_.size() > kept_) {
    auto oldest = entries_.find(order_.front());
    if (oldest != entries_.end()) {
      std::lock_guard done(oldest->second->mutex);
      if (!oldest->second->done) break;
      entries_.erase(oldest);
    }
    order_.pop_front();
  }
  return Pending(std::move(id), std::move(entry));
}

bool AsyncResults::get(const std::string& id, bool wait, Answer answer, Wait* wait_handle) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    entry = it->second;
  }
  std::unique_lock lock(entry->mutex);
  if (entry->done) {
    api::GetResultResponse result = finished_result(entry->response);
    lock.unlock();
    answer(std::move(result));
    return true;
  }
  if (!wait) {
    lock.unlock();
    answer(api::GetResultResponse{});  // done = false
    return true;
  }
  const uint64_t wait_id = entry->next_wait++;
  entry->waits.emplace(wait_id, std::move(answer));
  ++waiting_;
  if (wait_handle) *wait_handle = Wait(this, entry, wait_id);
  return true;
}

}  // namespace sprout::supervisor
