// Resource limits from a spec, planned in the parent; the child applies the
// plan (sandbox/rlimit_apply.h).
#pragma once

#include "sandbox/proto/sandbox_spec.pb.h"
#include "sandbox/rlimit_apply.h"

namespace sprout {

// Parent side. `memory_fenced_by_cgroup`: when false, RLIMIT_AS carries the
// memory limit (coarse: it counts address space, not resident memory).
RlimitPlan plan_rlimits(const sandbox::SandboxSpec& spec, bool memory_fenced_by_cgroup);

}  // namespace sprout
