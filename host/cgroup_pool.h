// A pool of pre-created sandbox cgroups, reused after a sandbox ends.
//
// Creating a cgroup is a handful of mkdirs across hierarchies; reusing an
// empty one is a counter reset. The pool owns "<own cgroup>/<prefix>-<pid>"
// in every hierarchy and removes it, with every leaf, on destruction. On
// creation it also removes what a crashed earlier process of the same prefix
// left behind (directories whose <pid> no longer runs). Its destructor waits
// (a few seconds at most) for outstanding leases, which sandboxes being
// reaped in the background still hold.
// Thread-safe. A returned leaf that must be removed (it still held
// processes) is removed outside the pool's lock: acquire() never waits for it.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host/cgroup.h"

namespace sprout {

class CgroupPool;

// Exclusive use of one leaf; gives it back to the pool when destroyed.
class CgroupLease {
 public:
  CgroupLease() = default;
  CgroupLease(CgroupPool* pool, std::unique_ptr<SandboxCgroup> cgroup)
      : pool_(pool), cgroup_(std::move(cgroup)) {}
  CgroupLease(CgroupLease&&) noexcept = default;
  CgroupLease& operator=(CgroupLease&& other) noexcept;
  ~CgroupLease();

  SandboxCgroup* get() const { return cgroup_.get(); }
  SandboxCgroup* operator->() const { return cgroup_.get(); }
  explicit operator bool() const { return cgroup_ != nullptr; }

 private:
  void give_back();
  CgroupPool* pool_ = nullptr;
  std::unique_ptr<SandboxCgroup> cgroup_;
};

struct CgroupPoolOptions {
  std::string prefix = "sprout";
  size_t prewarm = 4;    // leaves created up front
  size_t max_idle = 64;  // idle leaves kept beyond this are removed
  CgroupHost host;       // this machine; tests point it at a fake tree
};

class CgroupPool {
 public:
  // Never fails for lack of controllers: the pool then hands out empty leases
  // and layout() says what is missing.
  static Result<std::unique_ptr<CgroupPool>> create(CgroupPoolOptions options = {});
  ~CgroupPool();

  const CgroupLayout& layout() const { return layout_; }
  bool enforces_memory() const { return layout_.memory; }
  // A leaf with `limits` applied and counters reset; an empty lease when the
  // machine has no usable controller.
  Result<CgroupLease> acquire(const CgroupLimits& limits);
  size_t idle_count() const;
  size_t created_count() const;

 private:
  friend class CgroupLease;
  explicit CgroupPool(CgroupPoolOptions options) : options_(std::move(options)) {}
  Result<std::unique_ptr<SandboxCgroup>> create_leaf();
  void give_back(std::unique_ptr<SandboxCgroup> cgroup);
  void remove_stale_parents() const;

  CgroupPoolOptions options_;
  CgroupLayout layout_;
  std::unique_ptr<CgroupDriver> driver_;  // null when there is no cgroup version
  std::vector<std::string> parent_dirs_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;  // a lease came back
  size_t leased_ = 0;
  std::vector<std::unique_ptr<SandboxCgroup>> idle_;
  size_t next_leaf_ = 0;
  size_t created_ = 0;
};

}  // namespace sprout
