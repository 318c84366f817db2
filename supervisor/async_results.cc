#include "supervisor/async_results.h"

#include <sys/random.h>

#include <cstdio>
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
  std::condition_variable finished;
  bool done = false;
  api::InvokeResponse response;
};

void AsyncResults::Pending::finish(api::InvokeResponse response) const {
  std::lock_guard lock(entry_->mutex);
  entry_->response = std::move(response);
  entry_->done = true;
  entry_->finished.notify_all();
}

AsyncResults::Pending AsyncResults::start() {
  auto entry = std::make_shared<Entry>();
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

std::optional<api::GetResultResponse> AsyncResults::get(const std::string& id, bool wait) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    entry = it->second;
  }
  std::unique_lock lock(entry->mutex);
  if (wait) entry->finished.wait(lock, [&] { return entry->done; });
  api::GetResultResponse result;
  result.set_done(entry->done);
  if (entry->done) *result.mutable_result() = entry->response;
  return result;
}

}  // namespace sprout::supervisor
