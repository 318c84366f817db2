// spawn_sandbox(): one process into the isolation contract of DESIGN.md.
//
// Everything the child needs is computed by prepare_sandbox() in the parent,
// once per spec, and reused for every spawn: the mount plan, the id maps, the
// rlimits, argv/envp arrays, the descriptor map and the compiled seccomp
// program. After clone the child calls only async-signal-safe functions; the
// full sequence it runs is written out once, in run_sandbox_child()
// (spawn.cc).
//
// The spawner may be unprivileged (a function snapshot): the child then maps
// uid 0 of its new user namespace onto the spawner's own uid.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sandbox/capabilities.h"
#include "sandbox/cgroup_pool.h"
#include "sandbox/errors.h"
#include "sandbox/id_map.h"
#include "sandbox/mounts.h"
#include "sandbox/proto/sandbox_spec.pb.h"
#include "sandbox/rlimits.h"
#include "sandbox/sandbox_process.h"
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
// Same, with the fence taken from the pool that will provide the cgroups.
Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               const CgroupPool* cgroups);

// In-process user code for snapshot sandboxes: runs after seccomp, in the
// child, instead of execve. Its return value is the exit status.
using SandboxEntry = int (*)(void* arg);

struct SpawnOptions {
  // Take a leaf from this pool. Null: no cgroup here (rlimits only), or the
  // caller places the sandbox itself before user code runs, as sproutd does
  // for sandboxes forked by a function snapshot.
  CgroupPool* cgroups = nullptr;

  SandboxEntry entry = nullptr;  // required when spec.argv is empty
  void* entry_arg = nullptr;
  // CLONE_PARENT: the sandbox becomes a child of the spawner's parent, so that
  // a supervisor can wait on sandboxes that a snapshot forks.
  bool clone_parent = false;
  // Return as soon as the child has its id maps (it then sets itself up while
  // the caller goes on), instead of waiting until it reached user code.
  // Requires `setup_fd`: a stream socket (a spawner's descriptor, mapped
  // into the child by the spec) on which the child sends its setup record to
  // the sandbox's owner: ready (with the seccomp listener) or failed (text).
  bool return_before_setup = false;
  int setup_fd = -1;
};

// Clones the sandbox and returns once it reached user code (exec or entry)
// or failed. A failure before user code is an Error naming the step; the
// child is reaped and nothing is left behind.
Result<Sandbox> spawn_sandbox(const PreparedSandbox& prepared, const SpawnOptions& options);

}  // namespace sprout
