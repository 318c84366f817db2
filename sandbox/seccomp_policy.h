// The sandbox's seccomp policy, as data, and its compilation to BPF.
//
// Default action: allow. Calls a function has no business making are denied
// with a clear errno; calls that only an attacker makes (kernel modules, kexec,
// handle-based opens, raw port I/O) are fatal: the sandbox is stopped and the
// outcome names the syscall. Calls for a foreign architecture (i386, x32) are
// fatal too.
//
// compile_seccomp_policy() runs in the parent, once; the child only loads the
// ready program (apply is a single seccomp(2) call, async-signal-safe).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sandbox/errors.h"

namespace sprout {

enum class SeccompAction {
  kDenyErrno,  // fail the call with `err`
  kFatal,      // stop the sandbox and report a seccomp violation
};

struct SeccompRule {
  const char* syscall;
  SeccompAction action;
  int err;            // for kDenyErrno
  int arg_index;      // -1: no argument condition
  uint64_t arg_mask;  // condition: (arg & arg_mask) == arg_value
  uint64_t arg_value;
  const char* reason;  // why the rule exists; kept next to the rule on purpose
};

// The default policy of every sandbox.
std::span<const SeccompRule> default_seccomp_policy();

// How a fatal rule is enforced.
enum class FatalMode {
  // SECCOMP_RET_USER_NOTIF: the call blocks, never runs, and the spawner, who
  // holds the listener, learns the syscall number and kills the sandbox.
  kNotifySpawner,
  // SECCOMP_RET_KILL_PROCESS: used where a listener cannot be created (an
  // outer filter already has one). The outcome then says "syscall unknown".
  kKillProcess,
};

struct SeccompProgram {
  std::vector<sock_filter> instructions;
  FatalMode fatal_mode;
  sock_fprog fprog() const {
    return sock_fprog{static_cast<unsigned short>(instructions.size()),
                      const_cast<sock_filter*>(instructions.data())};
  }
};

Result<SeccompProgram> compile_seccomp_policy(std::span<const SeccompRule> rules, FatalMode mode);

// Both variants of the default policy, compiled once per process on first use.
// Thread-safe.
const SeccompProgram& default_seccomp_program(FatalMode mode);

// Child side, async-signal-safe: installs `program`. Returns the listener fd
// (kNotifySpawner), 0 (kKillProcess), or -1 with errno set.
int load_seccomp_program(const SeccompProgram& program);

// Name of a syscall number on this architecture ("finit_module"), or "#313".
std::string syscall_name(int nr);

}  // namespace sprout
