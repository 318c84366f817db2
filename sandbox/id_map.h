// User-namespace id maps, written by the spawner for its child. Parent side
// only (planned with the preparation, written by host/spawn.cc after the
// clone); the child reads nothing of it but SandboxChildPlan::clear_groups.
//
// The sandbox's root (uid 0, gid 0 inside) maps to exactly one unprivileged
// host id. A root spawner chooses that id (default 65534); an unprivileged
// spawner can only map its own ids, and must deny setgroups first.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/errors.h"

namespace sprout {

struct IdMaps {
  uid_t outer_uid;
  gid_t outer_gid;
  bool spawner_is_root;  // root may allow setgroups; others must deny it
  std::string uid_map;   // "0 <outer_uid> 1\n"
  std::string gid_map;
};

IdMaps plan_id_maps(uid_t requested_uid, gid_t requested_gid);

// Parent side, after clone and before the child's "go".
Result<void> write_id_maps(pid_t child, const IdMaps& maps);

}  // namespace sprout
