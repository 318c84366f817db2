// What this machine charges for the work a cold start is made of, measured
// before the benchmark so that results from two hosts can be compared: a
// run on a paravirtualized guest where a page fault costs 15 us reads very
// differently from one on bare metal where it costs 0.2 us. Each probe is a
// median of repeated trials, in nanoseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sprout::bench {

struct MachineProbes {
  // First write to a fresh anonymous page (zero-fill fault).
  uint64_t page_fault_ns = 0;
  // Write to a page shared copy-on-write with the parent after fork.
  uint64_t cow_fault_ns = 0;
  // fork() of a small process that exits at once, until waitpid returns.
  uint64_t fork_exit_ns = 0;
  // The same with a new network namespace (what a sandbox creates); empty
  // when not permitted here, with the reason.
  std::optional<uint64_t> clone_netns_exit_ns;
  std::string clone_netns_unavailable;
};

MachineProbes probe_machine();
// One line for the report: "page fault 12.1 us, copy-on-write 15.8 us, ...".
std::string describe(const MachineProbes& probes);
// Appends the probes as CSV (probe,median_ns) to `path`.
void write_probes_csv(const std::string& path, const MachineProbes& probes);

}  // namespace sprout::bench
