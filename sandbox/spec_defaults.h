// Fills the zero fields of a SandboxSpec with the documented defaults.
#pragma once

#include "sandbox/cgroup_limits.h"
#include "sandbox/proto/sandbox_spec.pb.h"

namespace sprout {

inline constexpr uint64_t kDefaultTmpSizeBytes = 64ull << 20;
inline constexpr uint64_t kDefaultMemoryLimitBytes = 128ull << 20;
inline constexpr uint32_t kDefaultPidsLimit = 64;
inline constexpr uint32_t kDefaultCpuMillicores = 1000;
inline constexpr uint32_t kDefaultMaxOpenFiles = 1024;

void apply_spec_defaults(sandbox::SandboxSpec& spec);

// The cgroup limits of a spec, its zero fields taken as their defaults: what
// every cgroup leaf of a function carries, its snapshot's and its
// sandboxes'. (A zero limit would leave the leaf without one.)
CgroupLimits cgroup_limits_of(const sandbox::SandboxSpec& spec);

}  // namespace sprout
