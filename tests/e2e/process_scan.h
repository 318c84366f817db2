// The host's view of processes, for the attack tests: who is whose child,
// under which uid, in which pid namespace and cgroup, with how much memory.
// Read from /proc as root; a process that ends while being read is skipped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/wait_until.h"

namespace sprout::testing {

struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';  // 'R', 'S', 'Z', ...
  std::string comm;  // /proc/PID/comm, without the newline
  uid_t uid = 0;     // real uid, host view
  uid_t euid = 0;
  gid_t gid = 0;
  std::vector<pid_t> nspid;  // outermost first: {host pid, ..., pid in its own namespace}
  long rss_kb = 0;
  unsigned long long start_time = 0;  // field 22 of /proc/PID/stat: identifies a pid's owner
  unsigned long long cpu_ticks = 0;   // utime + stime (fields 14, 15), clock ticks
};

// The whole text of a file; "" when it cannot be read.
std::string read_text(const std::string& path);

std::optional<ProcessInfo> read_process(pid_t pid);
std::vector<ProcessInfo> all_processes();
std::vector<ProcessInfo> processes_named(const std::string& comm);
std::vector<ProcessInfo> processes_with_prefix(const std::string& comm_prefix);
// Every process below `root` in the parent/child tree (not `root` itself).
std::vector<ProcessInfo> descendants(pid_t root);
// True while `pid` names the same, not yet dead, process (start time).
bool alive(const ProcessInfo& process);

// /proc/PID/cmdline with NULs as spaces.
std::string process_cmdline(pid_t pid);
// The path of `pid` in the v1 hierarchy carrying `controller` ("memory"),
// or in the v2 hierarchy when controller is "". "" if unknown.
std::string cgroup_of(pid_t pid, const std::string& controller);
// readlink /proc/PID/ns/NAME: "pid:[4026531836]"; "" if unreadable.
std::string namespace_of(pid_t pid, const std::string& name);
// "major:minor" of the file system holding `path` (stat st_dev).
std::string device_of(const std::string& path);

// SIGKILLs every process whose comm starts with `comm_prefix`; returns how many.
int kill_processes_with_prefix(const std::string& comm_prefix);

// `n` random lowercase hex digits from /dev/urandom.
std::string random_hex(size_t n);

// A process of the test's own: forked, then running as uid/gid (no
// supplementary groups, no capabilities), named `comm`, sleeping until
// killed. Dies with the test (PR_SET_PDEATHSIG). Returns once the id change
// is visible in /proc; -1 on failure.
pid_t start_sleeper_as(uid_t uid, gid_t gid, const std::string& comm);
// SIGKILL and reap a process started by start_sleeper_as / run_as.
void stop_sleeper(pid_t pid);
// Runs `body` in a forked child as uid/gid and returns what it returned
// (through a pipe). The child has no capabilities.
std::string run_as(uid_t uid, gid_t gid, const std::function<std::string()>& body);

// Calls `visit` with every directory below `root` (not `root` itself),
// parents before children; descends into one only when `visit` returns
// true. Other tests create and remove cgroups beside ours under ctest -j,
// so a directory that vanishes mid-walk is skipped: it neither throws nor
// ends the walk early, which would hide what a caller looks for.
void for_each_directory_under(const std::string& root,
                              const std::function<bool(const std::string&)>& visit);
// Removes every cgroup directory named `name` (deepest first) in the v1
// hierarchies and in the v2 tree; returns how many were removed.
int remove_cgroup_trees_named(const std::string& name);
// Paths of every cgroup directory named `name`.
std::vector<std::string> cgroup_dirs_named(const std::string& name);

}  // namespace sprout::testing
