// Fills the zero fields of a SandboxSpec with the documented defaults.
#pragma once

#include "sandbox/proto/sandbox_spec.pb.h"

namespace sprout {

inline constexpr uint64_t kDefaultTmpSizeBytes = 64ull << 20;
inline constexpr uint64_t kDefaultMemoryLimitBytes = 128ull << 20;
inline constexpr uint32_t kDefaultPidsLimit = 64;
inline constexpr uint32_t kDefaultCpuMillicores = 1000;
inline constexpr uint32_t kDefaultMaxOpenFiles = 1024;

void apply_spec_defaults(sandbox::SandboxSpec& spec);

}  // namespace sprout
