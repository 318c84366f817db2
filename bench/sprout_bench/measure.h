// Samples, percentiles and the report files of sprout-bench: a CSV of every
// sample and a latency CDF per workload as SVG.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sprout::bench {

struct Sample {
  std::string workload;
  std::string mode;
  uint64_t latency_us = 0;  // wall time seen by the caller
  // sprout only, from the response's metrics:
  uint64_t queue_us = 0, fork_us = 0, run_us = 0, daemon_total_us = 0;
  // The sandbox's own kernel counters, fork to answer: counts travel
  // between machines where times do not.
  uint64_t minor_faults = 0, major_faults = 0, context_switches = 0;
  bool preforked = false;  // served by a pre-forked sandbox (a pool hit)
  bool ok = true;
  std::string error;
};

struct Summary {
  size_t count = 0, errors = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  double per_second = 0;  // invocations per second over the run's wall time
};

Summary summarize(const std::vector<Sample>& samples, double wall_seconds);
uint64_t median(std::vector<uint64_t> values);

// `append`: adds rows to an existing file (the header only when it is new).
void write_csv(const std::string& path, const std::vector<Sample>& samples, bool append = false);
// One CDF plot, one line per mode, log-scaled latency axis.
void write_cdf_svg(const std::string& path, const std::string& title,
                   const std::vector<Sample>& samples);

// The processes below `root` (not `root` itself), found by walking the PPid
// links of every /proc/PID/stat: nested at any depth and in any pid
// namespace (the host's /proc shows them all, with host pids).
struct ProcessTree {
  std::map<pid_t, uint64_t> pss_kb;  // every descendant's PSS (smaps_rollup)
  uint64_t total_pss_kb = 0;
  size_t unreadable = 0;     // descendants whose smaps_rollup could not be read
  uint64_t root_rss_kb = 0;  // VmRSS of `root` itself
  size_t count() const { return pss_kb.size(); }
};
// `with_pss` false: only the pids (cheap enough to poll).
ProcessTree process_tree(pid_t root, bool with_pss = true);
// "PID comm (uid U): cmdline", for reports of what was left behind.
std::string describe_process(pid_t pid);

}  // namespace sprout::bench
