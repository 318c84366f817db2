// A host directory that a function reads through its sandboxes: the
// directory a file trigger watches, so that the handler can read the object
// it is told about. It appears at /mnt/<name>, read-only, nosuid, nodev,
// noexec, in the function's snapshot and in every sandbox forked from it,
// and nowhere else.
//
// How it gets there: the snapshot lives in a user and mount namespace of its
// own, with a root that holds nothing of the host, so it cannot open host
// paths. sproutd (root, host mount namespace) opens the directory, clones it
// into a detached mount tree (open_tree(OPEN_TREE_CLONE), this mount only,
// not the mounts beneath it), makes it private and read-only, nosuid, nodev,
// noexec (mount_setattr), and passes the tree's descriptor with LoadFunction.
// The snapshot moves it into its new root at /mnt/<name> (move_mount) while it
// still holds its capabilities (agent/snapshot_role.cc); sandboxes inherit it
// with the root, in a mount namespace of a less privileged user namespace, so
// the kernel locks its flags there and it cannot be unmounted to uncover what
// is below. Reads are checked against the function's own host uid (the
// snapshot's and its sandboxes' uid outside), so only files that uid may read
// on the host can be read.
//
// The set is fixed for a snapshot's life: changing it means loading a new
// snapshot (supervisor/function_version.h: set_read_only_mounts()).
#pragma once

#include <span>
#include <string>

#include "base/errors.h"
#include "base/unique_fd.h"
#include "protocol/limits.h"

namespace sprout {

struct ReadOnlyMount {
  std::string host_dir;  // absolute and canonical: no symbolic link, ".", ".." or "//"
  std::string name;      // a bucket name (is_read_only_mount_name()): mounted at /mnt/<name>

  bool operator==(const ReadOnlyMount&) const = default;
};

// At most this many per function: each travels as one descriptor in the
// LoadFunction packet, beside the code bundle's.
inline constexpr size_t kMaxReadOnlyMounts = 8;
static_assert(kMaxReadOnlyMounts + 1 <= limits::kMaxPassedFds);

// Checks the form of one mount: a canonical absolute host path other than
// "/", and a valid name. Touches nothing on disk.
Result<void> validate_read_only_mount(const ReadOnlyMount& mount);
// Each mount, their number, and that no two share a name.
Result<void> validate_read_only_mounts(std::span<const ReadOnlyMount> mounts);

// sproutd's side (needs CAP_SYS_ADMIN in the host's user namespace): opens
// `mount.host_dir` without following a symbolic link in any component (so a
// link swapped into the path cannot redirect it), refuses kernel pseudo file
// systems (proc, sysfs, cgroup, ...), and returns the descriptor of a
// detached, private, read-only, nosuid, nodev, noexec copy of that mount
// point (the directory's own mount only). The tree disappears when the last
// descriptor of it closes, unless a process has attached it.
Result<UniqueFd> detach_read_only_tree(const ReadOnlyMount& mount);

}  // namespace sprout
