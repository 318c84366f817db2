// One deployed version of a function, and the life of its snapshot: loaded
// from its tenant's zygote (at deploy, or by the first invocation that needs
// it: after sproutd starts, after the snapshot ended, after it was evicted),
// dropped when it ends or sits unused for the idle TTL, described for List
// and Get. Thread-safe.
//
// Locks: a load holds load_mutex_ for as long as the init runs (up to its
// timeout), and nothing else takes it; everything else holds snapshot_mutex_
// only to read or swap the snapshot, never while loading, forking or
// destroying one. So List, Get, Health, the maintenance thread and the
// pre-fork keeper never wait for a slow init.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "host/cgroup_pool.h"
#include "snapshot/function_snapshot.h"
#include "snapshot/read_only_mount.h"
#include "snapshot/runtime_zygote.h"
#include "supervisor/function_stats.h"
#include "supervisor/prefork_keeper.h"
#include "supervisor/proto/daemon_config.pb.h"
#include "supervisor/zygote_table.h"

namespace sprout::supervisor {

class FunctionVersion {
 public:
  // `info`: as stored (its tenant is filled in here); `code`: the bundle.
  FunctionVersion(api::FunctionInfo info, const std::string& code, const DaemonConfig& config);

  const api::FunctionInfo& info() const { return info_; }
  const api::FunctionSpec& spec() const { return info_.spec(); }
  // The code bundle (kept: every reload of the snapshot lays it out again).
  const std::string& code() const { return definition_.bundle; }
  // "hello@3"
  const std::string& label() const { return label_; }
  const std::shared_ptr<PreforkKeeper::Pool>& prefork_pool() const { return prefork_pool_; }

  // Shared by all versions of the function; set before the version is
  // published (in the manager's map), never changed after.
  std::shared_ptr<FunctionStats> stats;

  // Loads a snapshot from the tenant's zygote and keeps it if its init
  // succeeds; returns the init's outcome (the snapshot itself stays here).
  // Errors are sprout's. Used by Deploy, for the version's first snapshot.
  Result<LoadOutcome> load(ZygoteTable& zygotes, CgroupPool* cgroups);

  // The snapshot, loaded first if there is none or it ended. Errors with
  // code kInitFailed are the function's init failing (see init_failure()); a
  // failed init is tried again only after a pause (kInitRetryMs).
  Result<std::shared_ptr<FunctionSnapshot>> live_snapshot(ZygoteTable& zygotes,
                                                          CgroupPool* cgroups);

  // Marks the version as taken in from the registry, not loaded yet.
  void mark_not_loaded();

  // The host directories at /mnt/<name>, read-only, in this version's
  // snapshots and sandboxes (its file triggers' watched directories;
  // snapshot/read_only_mount.h). Empty until set. Call before the first
  // load (load() or the first invocation) and whenever the set changes. A
  // change drops the live snapshot (invocations in flight finish on it); the
  // next invocation loads one with the new set. A load running meanwhile is
  // not kept: it is done again with the new set, so no snapshot of this
  // version is ever handed out with a set other than the latest. An invalid
  // set is an error and changes nothing; an equal set (in any order) is a
  // no-op.
  Result<void> set_read_only_mounts(std::vector<ReadOnlyMount> mounts);
  std::vector<ReadOnlyMount> read_only_mounts();

  // For idle eviction and pre-fork sizing: call around every invocation.
  void invocation_started();
  void invocation_ended();

  // Drops the snapshot if it ended, or if it was not used for `idle_ttl_ms`
  // (0: never) and no invocation is in flight. Returns the snapshot if it
  // stays resident, else null.
  std::shared_ptr<FunctionSnapshot> settle(uint64_t idle_ttl_ms);

  bool has_live_snapshot();
  // The last failed init, as Lambda reports it (empty error_type: none).
  agent::InitResult init_failure();
  // `info()` with the current state and the number of idle sandboxes.
  api::FunctionInfo describe();

 private:
  // With load_mutex_ held.
  Result<LoadOutcome> load_locked(ZygoteTable& zygotes, CgroupPool* cgroups);
  // With load_mutex_ and snapshot_mutex_ held: keeps the snapshot of a
  // successful init (and `pin` with it), or notes the failed init.
  LoadOutcome keep_loaded(LoadOutcome loaded, ZygoteTable::Pin& pin);

  const api::FunctionInfo info_;  // its tenant is the effective one
  // Constant but for read_only_mounts, which only a load (load_mutex_ held)
  // sets, from read_only_mounts_, before it passes the definition on.
  FunctionDefinition definition_;
  const ZygoteTable::Key zygote_key_;
  const std::string label_;
  const std::shared_ptr<PreforkKeeper::Pool> prefork_pool_;
  // Last invocation started or ended, or snapshot loaded.
  std::atomic<int64_t> last_used_ms_{0};

  std::mutex load_mutex_;
  std::mutex snapshot_mutex_;  // guards the fields below
  // Held while `snapshot_` is; declared first so that, when the version is
  // destroyed, the zygote stays pinned until the snapshot has ended.
  ZygoteTable::Pin zygote_pin_;
  std::shared_ptr<FunctionSnapshot> snapshot_;  // null: not loaded, dropped, or init failed
  std::string absent_state_;                    // the state shown while `snapshot_` is null
  std::atomic<bool> loading_{false};            // a load (init) runs now
  agent::InitResult init_failure_;              // the last load's, when its init failed
  int64_t init_failed_ms_ = 0;
  std::vector<ReadOnlyMount> read_only_mounts_;  // the latest set
  uint64_t read_only_mounts_generation_ = 0;     // bumped by every change of it
};

}  // namespace sprout::supervisor
