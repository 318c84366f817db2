#include "host/cgroup_v2_delegation.h"

#include <cerrno>
#include <sstream>

namespace sprout {
namespace {

// Rounds of moving and retrying: a process that forks while we move its
// siblings leaves a new member behind; two more rounds catch that.
constexpr int kMoveRounds = 3;

Result<void> move_members(const std::string& dir, const std::string& leaf, const CgroupFs& fs) {
  if (fs.make_dir(leaf) != 0 && errno != EEXIST) return os_error("create cgroup", leaf);
  auto procs = read_cgroup_file(dir + "/cgroup.procs");
  if (!procs) return std::unexpected(procs.error());
  std::istringstream members(*procs);
  pid_t pid;
  while (members >> pid) {
    // One pid per write, as the kernel takes them; a process that exited
    // meanwhile (ESRCH) is no member any more.
    auto moved = fs.write_file(leaf + "/cgroup.procs", std::to_string(pid));
    if (!moved && moved.error().err != ESRCH) return moved;
  }
  return {};
}

}  // namespace

Result<void> enable_controllers_for_children(const std::string& dir,
                                             const std::string& controllers,
                                             const std::string& members_leaf,
                                             const CgroupFs& fs) {
  const std::string control = dir + "/cgroup.subtree_control";
  for (int round = 0;; ++round) {
    auto enabled = fs.write_file(control, controllers);
    if (enabled || enabled.error().err != EBUSY || round == kMoveRounds) return enabled;
    if (auto moved = move_members(dir, dir + "/" + members_leaf, fs); !moved) return moved;
  }
}

}  // namespace sprout
