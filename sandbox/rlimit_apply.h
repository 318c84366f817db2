// Resource limits, the second fence behind cgroups (and the only one where a
// cgroup controller is missing): the plain plan the child applies. Planned
// by sandbox/rlimit_plan.h. Child side: async-signal-safe.
#pragma once

#include <sys/resource.h>

#include <array>
#include <cstddef>

namespace sprout {

struct RlimitSetting {
  int resource;
  rlim_t value;  // soft and hard alike: the sandbox may not raise it
};

struct RlimitPlan {
  std::array<RlimitSetting, 8> settings{};
  size_t count = 0;
};

// Returns -1 on success, else the index of the setting that failed, with
// errno set.
int apply_rlimits(const RlimitPlan& plan);

}  // namespace sprout
