// CLOCK_MONOTONIC in nanoseconds: the one clock shared by the supervisor and
// every sandbox (no time namespace), so deadlines travel as absolute values.
#pragma once

#include <time.h>

#include <cstdint>

namespace sprout {

inline uint64_t monotonic_ns() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace sprout
