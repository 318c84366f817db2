// Which invocation reports a snapshot's init: Lambda writes "Init Duration"
// in the REPORT line of the first invocation of a fresh execution
// environment, the one that paid for the init. In sprout a function snapshot
// is that environment, and many invocations may run on it at once, so the
// first to claim a snapshot gets its init figure and every later one gets
// nothing.
//
// The figure comes from where the snapshot was loaded: a deploy knows the
// init's own duration as the snapshot measured it; an invocation that had
// to (re)load the snapshot (after sproutd restarted, after an eviction or a
// crash) knows how long it waited for the load, on sproutd's clock.
//
// Snapshots are held weakly and told apart by their control block, which a
// weak_ptr keeps alive, so a new snapshot at a freed one's address is never
// taken for it. Any shared object will do as the key (a snapshot in sproutd,
// anything in tests). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace sprout::supervisor {

class InitReports {
 public:
  // `snapshot` was just loaded and its init took `init_us`. A figure already
  // noted for it stays (the deploy's, measured by the snapshot, is the
  // better one; or the first of two invocations that waited for one load).
  // True when noted now.
  bool loaded(const std::shared_ptr<const void>& snapshot, uint64_t init_us);
  // The init figure of `snapshot` for the first invocation that asks, noted
  // by loaded(); nothing for every later one, or when none was noted.
  std::optional<uint64_t> claim(const std::shared_ptr<const void>& snapshot);

  // Snapshots noted and not yet ended (for tests).
  size_t tracked();

 private:
  struct Entry {
    uint64_t init_us = 0;
    bool claimed = false;
  };
  void forget_ended_locked();

  std::mutex mutex_;
  std::map<std::weak_ptr<const void>, Entry, std::owner_less<>> entries_;
};

}  // namespace sprout::supervisor
