// Resource limits: the second fence behind cgroups, and the only one where a
// cgroup controller is missing.
#pragma once

#include <sys/resource.h>

#include <array>
#include <cstddef>

#include "sandbox/proto/sandbox_spec.pb.h"

namespace sprout {

struct RlimitSetting {
  int resource;
  rlim_t value;  // soft and hard alike: the sandbox may not raise it
};

struct RlimitPlan {
  std::array<RlimitSetting, 8> settings{};
  size_t count = 0;
};

// Parent side. `memory_fenced_by_cgroup`: when false, RLIMIT_AS carries the
// memory limit (coarse: it counts address space, not resident memory).
RlimitPlan plan_rlimits(const sandbox::SandboxSpec& spec, bool memory_fenced_by_cgroup);

// Child side, async-signal-safe. Returns -1 on success, else the index of the
// setting that failed, with errno set.
int apply_rlimits(const RlimitPlan& plan);

}  // namespace sprout
