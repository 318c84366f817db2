// Sandbox cgroups: one leaf cgroup per sandbox with memory, pids and CPU
// limits, behind one interface with a driver per cgroup version.
//
// Leaves live under "<own cgroup>/<prefix>-<pid>/" in every hierarchy used,
// where <own cgroup> is this process's cgroup from /proc/self/cgroup, never a
// hierarchy's root (discovery: host/cgroup_layout.h). Two drivers:
//   v2 (host/cgroup_v2.cc): one unified tree; sandboxes enter their leaf at
//       clone time with CLONE_INTO_CGROUP (the leaf's directory fd).
//   v1 (host/cgroup_v1.cc): one tree per controller (memory, pids, cpu,
//       cpuacct); the spawner writes the child's pid into each leaf before
//       letting it run.
// Controllers that neither version offers are reported as missing; the
// sandbox then leans on rlimits alone for them, and a log line says so.
// Not thread-safe; CgroupPool serializes access.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/errors.h"
#include "base/unique_fd.h"
#include "host/cgroup_fs.h"
#include "host/cgroup_layout.h"
#include "sandbox/cgroup_limits.h"

namespace sprout {

struct CgroupUsage {
  uint64_t oom_kills = 0;          // since the leaf was last reset
  uint64_t peak_memory_bytes = 0;  // 0 when unknown
  uint64_t cpu_time_us = 0;        // 0 when unknown
  bool cpu_known = false;
};

// One sandbox's leaf. The version's driver implements the virtual methods.
class SandboxCgroup {
 public:
  virtual ~SandboxCgroup();
  SandboxCgroup(const SandboxCgroup&) = delete;
  SandboxCgroup& operator=(const SandboxCgroup&) = delete;

  const std::vector<std::string>& dirs() const { return dirs_; }
  virtual Result<void> apply_limits(const CgroupLimits& limits) = 0;
  // v2 only: the directory descriptor for CLONE_INTO_CGROUP; -1 on v1.
  virtual int clone_into_fd() const { return -1; }
  // v1: the spawner places the child explicitly.
  virtual Result<void> add_process(pid_t pid) = 0;
  // Starts a fresh accounting period (before each sandbox).
  virtual Result<void> reset_counters() = 0;
  virtual CgroupUsage read_usage() const = 0;
  bool is_empty() const;
  // SIGKILL to every process in the leaf (v2: cgroup.kill). A second fence
  // behind the pid namespace; used for leftovers of a crashed run.
  virtual void kill_all() const;
  virtual Result<void> remove();

  // A leaf named `name` under each of `parent_dirs` (one per layout tree),
  // made by the driver of the layout's version. `layout` must outlive it.
  static Result<std::unique_ptr<SandboxCgroup>> create(const CgroupLayout& layout,
                                                       const std::vector<std::string>& parent_dirs,
                                                       const std::string& name);

 protected:
  SandboxCgroup(const CgroupLayout& layout, std::vector<std::string> dirs);
  // Reads a usage file through a descriptor kept open for the leaf's life:
  // one pread instead of open+read+close on every invocation's hot path.
  // `dir` is only used the first time a `file` is read.
  Result<std::string> read_usage_file(const std::string& dir, const char* file) const;

  const CgroupLayout& layout_;
  std::vector<std::string> dirs_;  // one per layout tree
  uint64_t oom_baseline_ = 0;
  uint64_t cpu_baseline_us_ = 0;

 private:
  mutable std::map<std::string, UniqueFd> usage_fds_;
};

// What differs between the versions beyond one leaf: preparing the pool's
// own directory, and making leaves.
class CgroupDriver {
 public:
  // nullptr when the layout has no cgroup version (kNone). `layout` must
  // outlive the driver and its leaves.
  static std::unique_ptr<CgroupDriver> for_layout(const CgroupLayout& layout);
  virtual ~CgroupDriver() = default;

  // Called once `dir`, the pool's directory under `tree.own_dir`, exists.
  virtual void prepare_parent(const CgroupLayout::Tree& tree, const std::string& dir) const = 0;
  virtual Result<std::unique_ptr<SandboxCgroup>> create_leaf(
      const std::vector<std::string>& parent_dirs, const std::string& name) const = 0;
};

// The two drivers.
std::unique_ptr<CgroupDriver> make_cgroup_v1_driver(const CgroupLayout& layout);
std::unique_ptr<CgroupDriver> make_cgroup_v2_driver(const CgroupLayout& layout);

}  // namespace sprout
