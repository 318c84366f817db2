// The sandbox's root file system, planned in the parent (here) and applied in
// the child (sandbox/mount_apply.h).
//
// The child builds the new root on a tmpfs staged over /tmp of its own mount
// namespace (the way bubblewrap does), so that host paths stay reachable under
// /oldroot while it binds them, whatever they are:
//
//   make / private -> tmpfs on /tmp -> pivot into it (old root at /oldroot)
//   -> tmpfs /newroot -> read-only binds of the runtime and the code
//   -> attached mounts (detached trees given as descriptors) -> links, /etc files (copied) -> /proc -> /dev -> /tmp (size-limited)
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
#include <string_view>
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
  int source_fd = -1;       // kAttachMount only
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

// Read-only host directories of a function appear at /mnt/<name> in its
// snapshot and sandboxes (snapshot/read_only_mount.h).
inline constexpr std::string_view kReadOnlyMountParent = "/mnt";

// A name that may stand for such a mount, S3's bucket-name characters: 3 to
// 63 of [a-z0-9.-], beginning and ending with a letter or digit. So it is
// always one plain path component (never "", ".", ".." or holding a "/").
bool is_read_only_mount_name(std::string_view name);

}  // namespace sprout
