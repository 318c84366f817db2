// Counters of what one process cost the machine, read from the host's
// /proc: page faults (the whole process, every thread) and context
// switches (its main thread, as /proc/PID/status gives them). Counts travel
// between machines where times do not: a host where a fault costs 15 us
// and one where it costs 0.2 us see the same number of faults.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace sprout {

struct ProcessCounters {
  uint64_t minor_faults = 0;
  uint64_t major_faults = 0;
  uint64_t voluntary_switches = 0;
  uint64_t involuntary_switches = 0;
};

// Nothing when the process is gone (or `proc` is not a /proc).
std::optional<ProcessCounters> read_process_counters(pid_t pid, const std::string& proc = "/proc");

}  // namespace sprout
