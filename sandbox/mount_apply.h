// The child's side of a sandbox's root file system: applying the steps that
// sandbox/mount_plan.h planned. Plain data only: every string is a pointer
// into storage that the parent side owns (MountPlan) and filled before the
// clone. Child side: async-signal-safe.
#pragma once

#include <cstddef>

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
    kWriteFile,        // `target` with contents `data` (`data_size` bytes)
    kDetachOldRoot,    // lazily unmount /oldroot
    kEnterNewRoot,     // pivot into /newroot, detach the old root
    kRemountReadOnly,  // `target` read-only (this mount only), nosuid, noexec
    kRemountRootReadOnly,
    kAttachMount,      // move the detached tree `source_fd` to `target`: private,
                       // read-only, nosuid, nodev, noexec
  };
  Kind kind;
  const char* source;  // NUL-terminated, never null ("" when unused)
  const char* target;
  const char* data;
  size_t data_size;
  bool writable;
  const char* description;  // "mount tmpfs on /tmp": the setup record's text
  int source_fd = -1;       // kAttachMount: the detached mount tree
};

// The staging paths of a full root (see sandbox/mount_plan.h).
inline constexpr const char* kMountStaging = "/tmp";
inline constexpr const char* kMountNewRoot = "/newroot";
inline constexpr const char* kMountOldRoot = "/oldroot";

// Returns -1 on success, else the index of the failed step, with errno set.
int apply_mount_steps(const MountStep* steps, size_t count);

}  // namespace sprout
