// sproutd's own process, as Prometheus' client libraries report a process
// (the standard process_* metrics): CPU time, memory, descriptors, start
// time and threads, read from /proc/self. Thread-safe (reads files only).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/errors.h"

namespace sprout::supervisor {

struct ProcessMetrics {
  double cpu_seconds = 0;  // user + system
  uint64_t resident_memory_bytes = 0;
  uint64_t virtual_memory_bytes = 0;
  uint64_t open_fds = 0;
  double max_fds = 0;              // the soft RLIMIT_NOFILE; +Inf when unlimited
  double start_time_seconds = 0;  // since the Unix epoch
  uint64_t threads = 0;
};

// The fields of /proc/<pid>/stat that ProcessMetrics takes: every figure
// but the descriptors. `ticks_per_second`: sysconf(_SC_CLK_TCK);
// `page_size`: sysconf(_SC_PAGESIZE); `boot_time_seconds`: /proc/stat's
// btime. A line that does not parse (a command name with ") " in it is
// parsed right: the name ends at the last ')') is an error.
Result<ProcessMetrics> parse_proc_stat(std::string_view stat, double ticks_per_second,
                                       uint64_t page_size, double boot_time_seconds);

// `btime` of /proc/stat: when the machine booted, in seconds since the epoch.
Result<double> parse_boot_time(std::string_view proc_stat);

// Everything, for this process.
Result<ProcessMetrics> read_process_metrics();

}  // namespace sprout::supervisor
