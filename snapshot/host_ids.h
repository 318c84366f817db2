// Host uids/gids for zygotes and function snapshots.
//
// Every tenant's zygote and every function snapshot runs as a host id of its
// own, taken from a range the operator configures (never a real account), so
// that no two of them can signal or trace each other through a shared uid.
// The same number serves as uid and gid. An id is given back only when its
// lease is destroyed, and the owner destroys the lease only once every
// process that ran under the id has ended: an id is never reused while
// anything of its previous owner lives. Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>

#include "base/errors.h"

namespace sprout {

class HostIdRange;

// One id, held until destroyed. Move-only.
class HostIdLease {
 public:
  HostIdLease() = default;
  HostIdLease(HostIdLease&& other) noexcept;
  HostIdLease& operator=(HostIdLease&& other) noexcept;
  ~HostIdLease();

  uid_t uid() const { return id_; }
  gid_t gid() const { return id_; }
  explicit operator bool() const { return state_ != nullptr; }

 private:
  friend class HostIdRange;
  struct State;
  HostIdLease(std::shared_ptr<State> state, uint32_t id) : state_(std::move(state)), id_(id) {}
  void give_back();

  std::shared_ptr<State> state_;
  uint32_t id_ = 0;
};

class HostIdRange {
 public:
  // Ids first .. first + count - 1. Refuses a range that touches 0 or
  // 65534 (nobody) or overflows.
  static Result<HostIdRange> create(uint32_t first, uint32_t count);

  // The lowest free id after the last one handed out (round robin, so that a
  // just-released id is the last to be taken again).
  Result<HostIdLease> acquire();
  size_t in_use() const;
  uint32_t first() const;
  uint32_t count() const;

 private:
  explicit HostIdRange(std::shared_ptr<HostIdLease::State> state) : state_(std::move(state)) {}
  std::shared_ptr<HostIdLease::State> state_;
};

struct HostIdLease::State {
  uint32_t first = 0;
  uint32_t count = 0;
  mutable std::mutex mutex;
  std::set<uint32_t> taken;
  uint32_t next = 0;  // offset of the next id to try
};

}  // namespace sprout
