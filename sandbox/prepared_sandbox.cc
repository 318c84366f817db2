#include "sandbox/prepared_sandbox.h"

#include "sandbox/spec_defaults.h"

namespace sprout {

Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               bool memory_fenced_by_cgroup) {
  apply_spec_defaults(spec);
  auto prepared = std::make_shared<PreparedSandbox>();
  auto mounts = plan_mounts(spec);
  if (!mounts) return std::unexpected(mounts.error());
  prepared->mounts = std::move(*mounts);
  prepared->id_maps = plan_id_maps(spec.outer_uid(), spec.outer_gid());
  prepared->rlimits = plan_rlimits(spec, memory_fenced_by_cgroup);
  prepared->cgroup_limits =
      CgroupLimits{spec.memory_limit_bytes(), spec.pids_limit(), spec.cpu_millicores()};
  prepared->last_cap = last_capability();
  prepared->seccomp_notify = &default_seccomp_program(FatalMode::kNotifySpawner);
  prepared->seccomp_kill = &default_seccomp_program(FatalMode::kKillProcess);

  for (const auto& mapping : spec.fds()) {
    if (mapping.parent_fd() < 0 || mapping.child_fd() < 0 || mapping.child_fd() > 255) {
      return plain_error("prepare sandbox", "descriptor mapping out of range");
    }
    for (const auto& [parent, child] : prepared->fds) {
      if (child == mapping.child_fd())
        return plain_error("prepare sandbox", "child fd mapped twice");
    }
    prepared->fds.emplace_back(mapping.parent_fd(), mapping.child_fd());
    prepared->highest_child_fd = std::max(prepared->highest_child_fd, mapping.child_fd());
  }
  if (prepared->fds.size() > 64) return plain_error("prepare sandbox", "more than 64 descriptors");

  prepared->spec = std::move(spec);
  // Pointers into the spec's own strings: stable for the PreparedSandbox's life.
  for (auto& arg : *prepared->spec.mutable_argv()) prepared->argv.push_back(arg.data());
  prepared->argv.push_back(nullptr);
  for (auto& var : *prepared->spec.mutable_env()) prepared->envp.push_back(var.data());
  prepared->envp.push_back(nullptr);
  if (!prepared->spec.argv().empty() && prepared->spec.argv(0).empty()) {
    return plain_error("prepare sandbox", "argv[0] is empty");
  }
  return prepared;
}

}  // namespace sprout
