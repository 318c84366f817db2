// cgroup v2: giving a cgroup's children its controllers, when the cgroup
// holds processes itself.
//
// v2's "no internal processes" rule: a cgroup (other than the root) that
// holds processes cannot enable controllers for its children (writing
// cgroup.subtree_control fails with EBUSY). sproutd starts in exactly such a
// cgroup under systemd (the unit's, Delegate=yes) and in a container (the
// container's, shared with its init). So it first moves every process of
// that cgroup, itself included, into a leaf of their own beside its pool,
// then enables the controllers: without them its sandboxes' leaves have no
// memory.max, pids.max or cpu.max, and no limit could be set.
#pragma once

#include <string>

#include "base/errors.h"
#include "host/cgroup_fs.h"

namespace sprout {

// The leaf under the delegated cgroup that sproutd and whatever shared its
// cgroup move to ("sproutd-<pid>" names a pool; this does not match it).
inline constexpr char kSupervisorLeaf[] = "supervisor";

// Writes `controllers` ("+memory +pids +cpu") to <dir>/cgroup.subtree_control.
// On EBUSY, moves every process listed in <dir>/cgroup.procs into
// <dir>/<members_leaf> (made if missing) and tries again; a few rounds,
// for processes that appear meanwhile. The last failure otherwise.
Result<void> enable_controllers_for_children(const std::string& dir,
                                             const std::string& controllers,
                                             const std::string& members_leaf,
                                             const CgroupFs& fs);

}  // namespace sprout
