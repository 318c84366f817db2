// The resource limits of one cgroup leaf, as plain data: computed with a
// sandbox's preparation, applied by the host-side cgroup drivers.
#pragma once

#include <cstdint>

namespace sprout {

struct CgroupLimits {
  uint64_t memory_bytes = 0;
  uint32_t pids = 0;
  uint32_t cpu_millicores = 0;
};

}  // namespace sprout
