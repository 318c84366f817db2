#include "snapshot/host_ids.h"

namespace sprout {

HostIdLease::HostIdLease(HostIdLease&& other) noexcept
    : state_(std::move(other.state_)), id_(other.id_) {}

HostIdLease& HostIdLease::operator=(HostIdLease&& other) noexcept {
  if (this != &other) {
    give_back();
    state_ = std::move(other.state_);
    id_ = other.id_;
  }
  return *this;
}

HostIdLease::~HostIdLease() { give_back(); }

void HostIdLease::give_back() {
  if (!state_) return;
  std::lock_guard lock(state_->mutex);
  state_->taken.erase(id_);
  state_.reset();
}

Result<HostIdRange> HostIdRange::create(uint32_t first, uint32_t count) {
  const uint64_t last = uint64_t{first} + count - 1;
  if (count == 0 || first == 0 || last >= 0xffffffffull)
    return plain_error("host id range", "empty, starting at 0, or past 2^32-2");
  if (first <= 65534 && last >= 65534)
    return plain_error("host id range", "must not contain 65534 (nobody)");
  auto state = std::make_shared<HostIdLease::State>();
  state->first = first;
  state->count = count;
  return HostIdRange(std::move(state));
}

Result<HostIdLease> HostIdRange::acquire() {
  std::lock_guard lock(state_->mutex);
  if (state_->taken.size() >= state_->count)
    return plain_error("allocate host id", "all " + std::to_string(state_->count) +
                                               " ids of the range are in use");
  for (uint32_t tried = 0; tried < state_->count; ++tried) {
    const uint32_t id = state_->first + state_->next;
    state_->next = (state_->next + 1) % state_->count;
    if (state_->taken.insert(id).second) return HostIdLease(state_, id);
  }
  return plain_error("allocate host id", "no free id");
}

size_t HostIdRange::in_use() const {
  std::lock_guard lock(state_->mutex);
  return state_->taken.size();
}

uint32_t HostIdRange::first() const { return state_->first; }
uint32_t HostIdRange::count() const { return state_->count; }

}  // namespace sprout
