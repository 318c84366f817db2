#include "supervisor/init_reports.h"

namespace sprout::supervisor {

void InitReports::forget_ended_locked() {
  // A function has a snapshot or two alive at a time (a redeploy's old one
  // until its invocations end), so this stays a handful of entries.
  std::erase_if(entries_, [](const auto& entry) { return entry.first.expired(); });
}

bool InitReports::loaded(const std::shared_ptr<const void>& snapshot, uint64_t init_us) {
  if (!snapshot) return false;
  std::lock_guard lock(mutex_);
  forget_ended_locked();
  return entries_.try_emplace(snapshot, Entry{.init_us = init_us}).second;
}

std::optional<uint64_t> InitReports::claim(const std::shared_ptr<const void>& snapshot) {
  if (!snapshot) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(snapshot);
  if (it == entries_.end() || it->second.claimed) return std::nullopt;
  it->second.claimed = true;
  return it->second.init_us;
}

size_t InitReports::tracked() {
  std::lock_guard lock(mutex_);
  forget_ended_locked();
  return entries_.size();
}

}  // namespace sprout::supervisor
