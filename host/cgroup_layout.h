// Discovery of the host's cgroup layout: which version carries the
// controllers sprout uses (memory, pids, cpu, cpuacct), and where this
// process's own cgroup is in each hierarchy.
//
// v2 wins when the unified hierarchy offers memory and pids; otherwise every
// v1 hierarchy with one of the controllers is used (hybrid hosts: v1
// controllers beside a v2 tree without them).
#pragma once

#include <string>
#include <vector>

#include "host/cgroup_fs.h"

namespace sprout {

enum class CgroupVersion { kNone, kV1, kV2 };

// What discovery reads. The defaults are this machine; tests point them at a
// fake tree: mount points under /sys/fs/cgroup in mountinfo are taken
// relative to `cgroupfs_root`, and `fs` creates and removes directories.
struct CgroupHost {
  std::string cgroupfs_root = "/sys/fs/cgroup";
  std::string proc_self_cgroup = "/proc/self/cgroup";
  std::string proc_self_mountinfo = "/proc/self/mountinfo";
  const CgroupFs* fs = &real_cgroup_fs();  // must outlive every layout made from it
};

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
  const CgroupFs* fs = &real_cgroup_fs();  // the file system the trees live on

  std::string describe() const;  // "cgroup v1: memory pids cpu cpuacct"
};

// Reads /proc/self/cgroup and /proc/self/mountinfo (or what `host` names).
CgroupLayout discover_cgroup_layout(const CgroupHost& host = {});

}  // namespace sprout
