// The sandbox's root file system, planned in the parent and applied in the
// child.
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
#pragma once

#include <string>
#include <vector>

#include "base/errors.h"
#include "sandbox/proto/sandbox_spec.pb.h"

namespace sprout {

struct MountStep {
  enum class Kind {
    kMakeRootPrivate,  // stop mount events from reaching the host
    kStageBase,        // tmpfs on /tmp, pivot into it, old root at /oldroot
    kTmpfs,            // tmpfs at `target` with `data` options
    kBind,             // bind `source` at `target`, read-only unless writable
    kBindDevice,       // bind a device node (writable)
    kProc,             // fresh procfs of the sandbox's pid namespace
    kSymlink,          // `target` -> `source`
    kWriteFile,        // `target` with contents `data`
    kDetachOldRoot,    // lazily unmount /oldroot
    kEnterNewRoot,     // pivot into /newroot, detach the old root
    kRemountReadOnly,  // `target` read-only (this mount only), nosuid, noexec
    kRemountRootReadOnly,
  };
  Kind kind;
  std::string source;
  std::string target;
  std::string data;
  bool writable = false;
  std::string description;  // "mount tmpfs on /tmp", for the parent's errors
};

struct MountPlan {
  std::vector<MountStep> steps;
};

// Parent side. Validates paths (absolute, no "..") and skips default /etc
// files the host lacks.
Result<MountPlan> plan_mounts(const sandbox::SandboxSpec& spec);

// Child side, async-signal-safe. Returns -1 on success, else the index of the
// failed step, with errno set.
int apply_mount_plan(const MountPlan& plan);

}  // namespace sprout
