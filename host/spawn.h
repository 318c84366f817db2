// spawn_sandbox(): one process into the isolation contract of DESIGN.md,
// from the spawner's side: clone into fresh namespaces, write the id maps,
// place the cgroup, let the child run its setup (sandbox/sandbox_child.h),
// and hand back a Sandbox handle.
//
// The spawner may be unprivileged (a function snapshot): the child then maps
// uid 0 of its new user namespace onto the spawner's own uid.
#pragma once

#include <memory>

#include "base/errors.h"
#include "host/cgroup_pool.h"
#include "host/sandbox_process.h"
#include "sandbox/prepared_sandbox.h"

namespace sprout {

// Same, with the fence taken from the pool that will provide the cgroups.
Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               const CgroupPool* cgroups);

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
