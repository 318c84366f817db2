// PreparedSandbox: everything a sandbox's child needs, computed once per spec
// in the parent by prepare_sandbox() and reused for every spawn.
//
// Two sides, kept apart:
//  - parent side (may allocate, read before the clone or after the child
//    reported): the spec with defaults applied, the owning mount plan, the id
//    maps (written by the spawner), the cgroup limits, the strings the child
//    plan points into;
//  - child side: `child`, a SandboxChildPlan (sandbox/sandbox_child.h) of
//    plain data only, filled here before the clone. The child reads nothing
//    else: no protobuf getter, no std::string, no std::vector after the clone.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/errors.h"
#include "sandbox/cgroup_limits.h"
#include "sandbox/descriptors.h"
#include "sandbox/id_map.h"
#include "sandbox/mount_plan.h"
#include "sandbox/proto/sandbox_spec.pb.h"
#include "sandbox/sandbox_child.h"

namespace sprout {

struct PreparedSandbox {
  PreparedSandbox() = default;
  // The child plan points into this object: it never moves or copies.
  PreparedSandbox(const PreparedSandbox&) = delete;
  PreparedSandbox& operator=(const PreparedSandbox&) = delete;

  // ---- parent side ----
  sandbox::SandboxSpec spec;  // with defaults applied
  MountPlan mounts;
  IdMaps id_maps;
  CgroupLimits cgroup_limits;

  // ---- storage of the child plan: filled once, never changed after ----
  std::vector<MountStep> mount_steps;                  // views into `mounts`
  std::vector<std::unique_ptr<char[]>> owned_strings;  // hostname, working dir, argv, env
  std::vector<char*> argv;                             // NUL-terminated
  std::vector<char*> envp;                             // NUL-terminated
  std::vector<DescriptorMove> descriptor_moves;        // {spawner's fd, sandbox's fd}

  // ---- child side: plain data, pointing into the storage above ----
  SandboxChildPlan child;
};

// Validates the spec and computes everything spawn needs. Without a memory
// cgroup (`memory_fenced_by_cgroup` false), RLIMIT_AS carries the memory
// limit. Parent side, may allocate.
Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               bool memory_fenced_by_cgroup);

// The highest capability number of this kernel (/proc/sys/kernel/cap_last_cap),
// for drop_all_capabilities(). Parent side, before the clone.
int last_capability();

}  // namespace sprout
