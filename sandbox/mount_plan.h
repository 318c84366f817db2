// The sandbox's root file system, planned in the parent (here) and applied in
// the child (sandbox/mount_apply.h).
//
// The child builds the new root on a tmpfs staged over /tmp of its own mount
// namespace (the way bubblewrap does), so that host paths stay reachable under
// /oldroot while it binds them, whatever they are:
//
//   make / private -> tmpfs on /tmp -> pivot into it (old root at /oldroot)
//   -> tmpfs /newroot -> read-only binds of the runtime and the code
//   -> links, /etc files (copied) -> /proc -> /dev -> /tmp (size-limited)
//   -> detach /oldroot -> pivot into /newroot, old root detached
//   -> remount / read-only.
//
// A sandbox forked by a function snapshot inherits the snapshot's root
// (SandboxSpec.inherit_root): its plan is only "make / private, fresh /proc,
// fresh /tmp".
//
// Parent side: may allocate; reads the spec and the host's /etc.
#pragma once

#include <string>
#include <vector>

#include "base/errors.h"
#include "sandbox/mount_apply.h"
#include "sandbox/proto/sandbox_spec.pb.h"

namespace sprout {

// One step, with the strings it owns.
struct PlannedMount {
  MountStep::Kind kind;
  std::string source;
  std::string target;
  std::string data;
  bool writable = false;
  std::string description;  // "mount tmpfs on /tmp", for the parent's errors
};

struct MountPlan {
  std::vector<PlannedMount> steps;

  // The plain steps the child applies, pointing into this plan's strings:
  // valid as long as the plan lives and `steps` is not changed.
  std::vector<MountStep> child_steps() const;
};

// Validates paths (absolute, no "..") and skips default /etc files the host
// lacks.
Result<MountPlan> plan_mounts(const sandbox::SandboxSpec& spec);

}  // namespace sprout
