// Parent side: may allocate. Fills a PreparedSandbox, then its child plan.
#include "sandbox/prepared_sandbox.h"

#include <sys/capability.h>

#include <cstring>
#include <fstream>
#include <string_view>

#include "sandbox/rlimit_plan.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/spec_defaults.h"

namespace sprout {
namespace {

// A NUL-terminated copy of `text` that the prepared sandbox owns; its
// address does not change however many more are added.
char* keep_string(PreparedSandbox& prepared, std::string_view text) {
  auto copy = std::make_unique<char[]>(text.size() + 1);
  std::memcpy(copy.get(), text.data(), text.size());
  copy[text.size()] = '\0';
  char* address = copy.get();
  prepared.owned_strings.push_back(std::move(copy));
  return address;
}

}  // namespace

int last_capability() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  in >> last;
  return last;
}

Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               bool memory_fenced_by_cgroup) {
  apply_spec_defaults(spec);
  auto prepared = std::make_shared<PreparedSandbox>();
  auto mounts = plan_mounts(spec);
  if (!mounts) return std::unexpected(mounts.error());
  prepared->mounts = std::move(*mounts);
  prepared->id_maps = plan_id_maps(spec.outer_uid(), spec.outer_gid());
  prepared->cgroup_limits = cgroup_limits_of(spec);

  for (const auto& mapping : spec.fds()) {
    if (mapping.parent_fd() < 0 || mapping.child_fd() < 0 || mapping.child_fd() > 255) {
      return plain_error("prepare sandbox", "descriptor mapping out of range");
    }
    for (const DescriptorMove& move : prepared->descriptor_moves) {
      if (move.to == mapping.child_fd())
        return plain_error("prepare sandbox", "child fd mapped twice");
    }
    prepared->descriptor_moves.push_back(DescriptorMove{mapping.parent_fd(), mapping.child_fd()});
  }
  if (prepared->descriptor_moves.size() > kMaxDescriptorMoves)
    return plain_error("prepare sandbox", "more than 64 descriptors");
  if (!spec.argv().empty() && spec.argv(0).empty()) {
    return plain_error("prepare sandbox", "argv[0] is empty");
  }
  for (const std::string& arg : spec.argv()) prepared->argv.push_back(keep_string(*prepared, arg));
  prepared->argv.push_back(nullptr);
  for (const std::string& var : spec.env()) prepared->envp.push_back(keep_string(*prepared, var));
  prepared->envp.push_back(nullptr);
  prepared->mount_steps = prepared->mounts.child_steps();

  // The child's plan: plain data only, from here on read-only.
  SandboxChildPlan& child = prepared->child;
  child.clear_groups = prepared->id_maps.spawner_is_root;
  child.mount_steps = prepared->mount_steps.data();
  child.mount_step_count = prepared->mount_steps.size();
  child.hostname = keep_string(*prepared, spec.hostname());
  child.hostname_size = spec.hostname().size();
  child.descriptor_moves = prepared->descriptor_moves.data();
  child.descriptor_move_count = prepared->descriptor_moves.size();
  child.rlimits = plan_rlimits(spec, memory_fenced_by_cgroup);
  child.working_dir = keep_string(*prepared, spec.working_dir());
  child.last_capability = last_capability();
  child.seccomp_notify = &default_seccomp_program(FatalMode::kNotifySpawner);
  child.seccomp_kill = &default_seccomp_program(FatalMode::kKillProcess);
  child.argv = prepared->argv.data();
  child.envp = prepared->envp.data();

  prepared->spec = std::move(spec);
  return prepared;
}

}  // namespace sprout
