// PreparedSandbox: everything a sandbox's child needs, computed once per spec
// in the parent by prepare_sandbox() and reused for every spawn: the mount
// plan, the id maps, the rlimits, argv/envp arrays, the descriptor map and the
// compiled seccomp programs. The child (sandbox_child.h) reads it only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/errors.h"
#include "sandbox/capabilities.h"
#include "sandbox/cgroup_limits.h"
#include "sandbox/id_map.h"
#include "sandbox/mounts.h"
#include "sandbox/proto/sandbox_spec.pb.h"
#include "sandbox/rlimits.h"
#include "sandbox/seccomp_policy.h"

namespace sprout {

struct PreparedSandbox {
  sandbox::SandboxSpec spec;  // with defaults applied
  MountPlan mounts;
  IdMaps id_maps;
  RlimitPlan rlimits;
  CgroupLimits cgroup_limits;
  int last_cap = 0;
  const SeccompProgram* seccomp_notify = nullptr;  // preferred
  const SeccompProgram* seccomp_kill = nullptr;    // where a listener is refused
  // NUL-terminated arrays for execve, pointing into the spec's strings.
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::vector<std::pair<int, int>> fds;  // {parent fd, child fd}
  int highest_child_fd = 2;
};

// Validates the spec and computes everything spawn needs. Without a memory
// cgroup (`memory_fenced_by_cgroup` false), RLIMIT_AS carries the memory
// limit. Parent side, may allocate.
Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               bool memory_fenced_by_cgroup);
// In-process user code for snapshot sandboxes: runs after seccomp, in the
// child, instead of execve. Its return value is the exit status.
using SandboxEntry = int (*)(void* arg);

}  // namespace sprout
