// Sandbox cgroups: discovery of the host's cgroup layout, and one leaf cgroup
// per sandbox with memory, pids and CPU limits.
//
// Leaves live under "<own cgroup>/<prefix>-<pid>/" in every hierarchy used,
// where <own cgroup> is this process's cgroup from /proc/self/cgroup, never a
// hierarchy's root. Two drivers:
//   v2: one unified tree; sandboxes enter their leaf at clone time with
//       CLONE_INTO_CGROUP (the leaf's directory fd).
//   v1: one tree per controller (memory, pids, cpu, cpuacct); the spawner
//       writes the child's pid into each leaf before letting it run.
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
#include "sandbox/cgroup_limits.h"

namespace sprout {

struct CgroupUsage {
  uint64_t oom_kills = 0;          // since the leaf was last reset
  uint64_t peak_memory_bytes = 0;  // 0 when unknown
  uint64_t cpu_time_us = 0;        // 0 when unknown
  bool cpu_known = false;
};

enum class CgroupVersion { kNone, kV1, kV2 };

// Where the leaves of each controller go. Returned by discovery.
struct CgroupLayout {
  CgroupVersion version = CgroupVersion::kNone;
  // v2: one entry, controllers "memory,pids,cpu". v1: one per hierarchy.
  struct Tree {
    std::string controllers;  // "memory", "pids", "cpu,cpuacct", ...
    std::string own_dir;      // /sys/fs/cgroup/memory/<own path>
  };
  std::vector<Tree> trees;
  bool memory = false, pids = false, cpu = false, cpuacct = false;

  std::string describe() const;  // "cgroup v1: memory pids cpu cpuacct"
};

// Reads /proc/self/cgroup and /proc/self/mountinfo.
CgroupLayout discover_cgroup_layout();

class SandboxCgroup {
 public:
  SandboxCgroup(const CgroupLayout& layout, std::vector<std::string> dirs);
  ~SandboxCgroup();
  SandboxCgroup(const SandboxCgroup&) = delete;
  SandboxCgroup& operator=(const SandboxCgroup&) = delete;

  const std::vector<std::string>& dirs() const { return dirs_; }
  Result<void> apply_limits(const CgroupLimits& limits);
  // v2 only: the directory descriptor for CLONE_INTO_CGROUP; -1 on v1.
  int clone_into_fd() const { return dir_fd_.get(); }
  // v1: the spawner places the child explicitly.
  Result<void> add_process(pid_t pid);
  // Starts a fresh accounting period (before each sandbox).
  Result<void> reset_counters();
  CgroupUsage read_usage() const;
  bool is_empty() const;
  // SIGKILL to every process in the leaf (v2: cgroup.kill). A second fence
  // behind the pid namespace; used for leftovers of a crashed run.
  void kill_all() const;
  Result<void> remove();

  static Result<std::unique_ptr<SandboxCgroup>> create(const CgroupLayout& layout,
                                                       const std::vector<std::string>& parent_dirs,
                                                       const std::string& name);

 private:
  std::string file_in(const char* controller, const char* file) const;
  // Reads a usage file through a descriptor kept open for the leaf's life:
  // one pread instead of open+read+close on every invocation's hot path.
  Result<std::string> read_usage_file(const char* controller, const char* file) const;

  const CgroupLayout& layout_;
  std::vector<std::string> dirs_;  // one per layout tree
  UniqueFd dir_fd_;                // v2
  UniqueFd peak_fd_;               // v2: memory.peak opened and reset per period
  mutable std::map<std::string, UniqueFd> usage_fds_;
  uint64_t oom_baseline_ = 0;
  uint64_t cpu_baseline_us_ = 0;
};

// Small file helpers shared by the cgroup code.
Result<void> write_cgroup_file(const std::string& path, const std::string& value);
Result<std::string> read_cgroup_file(const std::string& path);
// Removes a cgroup directory, killing what still runs in it. Recursive.
void remove_cgroup_tree(const std::string& dir);

}  // namespace sprout
