// Parent side.
#include "sandbox/rlimit_plan.h"

namespace sprout {

RlimitPlan plan_rlimits(const sandbox::SandboxSpec& spec, bool memory_fenced_by_cgroup) {
  RlimitPlan plan;
  auto add = [&plan](int resource, rlim_t value) {
    plan.settings[plan.count++] = RlimitSetting{resource, value};
  };
  add(RLIMIT_NOFILE, spec.max_open_files());
  // Counted per uid of the sandbox's own user namespace, so it fences this
  // sandbox alone; the pids cgroup is the first fence.
  add(RLIMIT_NPROC, spec.pids_limit());
  add(RLIMIT_FSIZE, spec.tmp_size_bytes());
  add(RLIMIT_CORE, 0);
  if (spec.deadline_ms() > 0) {
    // CPU seconds can only run out after the wall-clock deadline has passed;
    // this fence matters only if the spawner stopped watching.
    add(RLIMIT_CPU, spec.deadline_ms() / 1000 + 2);
  }
  if (!memory_fenced_by_cgroup) add(RLIMIT_AS, spec.memory_limit_bytes());
  return plan;
}

}  // namespace sprout
