#include "host/process_counters.h"

#include <sstream>

#include "base/file_io.h"

namespace sprout {
namespace {

// The value of "Name:\t123" in /proc/PID/status, if present.
std::optional<uint64_t> status_field(const std::string& status, const std::string& name) {
  const auto at = status.find("\n" + name + ":");
  if (at == std::string::npos) return std::nullopt;
  std::istringstream value(status.substr(at + name.size() + 2));
  uint64_t number = 0;
  if (!(value >> number)) return std::nullopt;
  return number;
}

}  // namespace

std::optional<ProcessCounters> read_process_counters(pid_t pid, const std::string& proc) {
  const std::string dir = proc + "/" + std::to_string(pid);
  auto stat = read_whole_file(dir + "/stat");
  auto status = read_whole_file(dir + "/status");
  if (!stat || !status) return std::nullopt;
  // Fields after the command name, which may hold spaces and parentheses:
  // state(3) ppid pgrp session tty_nr tpgid flags minflt(10) cminflt
  // majflt(12).
  const auto close_paren = stat->rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat->substr(close_paren + 1));
  std::string state;
  int64_t skipped;
  ProcessCounters counters;
  uint64_t children_minor;
  if (!(fields >> state >> skipped >> skipped >> skipped >> skipped >> skipped >> skipped >>
        counters.minor_faults >> children_minor >> counters.major_faults))
    return std::nullopt;
  auto voluntary = status_field(*status, "voluntary_ctxt_switches");
  auto involuntary = status_field(*status, "nonvoluntary_ctxt_switches");
  if (!voluntary || !involuntary) return std::nullopt;
  counters.voluntary_switches = *voluntary;
  counters.involuntary_switches = *involuntary;
  return counters;
}

}  // namespace sprout
