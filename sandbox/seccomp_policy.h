// The seccomp policies, as data, and their compilation to BPF.
//
// The sandbox policy. Default action: allow. Calls a function has no business
// making are denied with a clear errno; calls that only an attacker makes
// (kernel modules, kexec, handle-based opens, raw port I/O) are fatal: the
// sandbox is stopped and the outcome names the syscall. Calls for a foreign
// architecture (i386, x32) are fatal too.
//
// The snapshot tier's policy, installed by a function snapshot right before
// the function's init runs, and inherited by every sandbox the snapshot forks
// (which then stacks the sandbox policy on top). It is derived from the
// sandbox policy: every call the sandbox denies is denied in the snapshot too,
// with the same errno, except the few that creating a sandbox needs (listed,
// with reasons, by snapshot_seccomp_exceptions()); every call that is fatal in
// the sandbox fails in the snapshot with a verdict that ranks below the
// sandbox's (kDenyBelowNotify), so that inside a sandbox the sandbox's own
// verdict, and its report of the syscall, always wins.
//
// Programs are compiled once per process (precompile_seccomp_programs() in the
// runtime zygote, so that snapshots and sandboxes inherit them ready); a child
// only loads a ready program (a single seccomp(2) call, async-signal-safe).
#pragma once

#include <linux/filter.h>
#include <sched.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/errors.h"

namespace sprout {

enum class SeccompAction {
  kDenyErrno,  // fail the call with `err`
  kFatal,      // stop the sandbox and report a seccomp violation
  // Fail the call without deciding the outcome: SECCOMP_RET_TRACE. With no
  // tracer attached (ptrace is denied in the snapshot and in the sandbox, so
  // none can attach from inside) the kernel skips the call and returns
  // ENOSYS: the call never runs. And TRACE ranks below USER_NOTIF among stacked
  // filters (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE >
  // LOG > ALLOW), so when a sandbox stacks its own filter, whose verdict for
  // the same call is USER_NOTIF (kFatal), the sandbox's verdict wins and
  // sproutd still learns which syscall was attempted. An ERRNO, TRAP or KILL
  // here would override it and hide the syscall. The snapshot tier uses this
  // for every call that is kFatal in the sandbox policy.
  // Caveat: should a tracer from outside ever attach with
  // PTRACE_O_TRACESECCOMP, the tracer decides whether the call runs; it would
  // still run with the snapshot's (lack of) privileges.
  kDenyBelowNotify,
};

// How a rule's argument condition compares.
enum class SeccompCompare {
  kMaskedEqual,  // (arg & arg_mask) == arg_value
  kNotEqual,     // arg != arg_value, all 64 bits (arg_mask unused)
};

struct SeccompRule {
  const char* syscall;
  SeccompAction action;
  int err;            // for kDenyErrno
  int arg_index;      // -1: no argument condition
  uint64_t arg_mask;  // condition, see `compare`
  uint64_t arg_value;
  const char* reason;  // why the rule exists; kept next to the rule on purpose
  SeccompCompare compare = SeccompCompare::kMaskedEqual;
  // A second condition, on another argument, that must hold too (-1: none).
  int arg2_index = -1;
  uint64_t arg2_mask = 0;
  uint64_t arg2_value = 0;
  SeccompCompare compare2 = SeccompCompare::kMaskedEqual;
};

// The default policy of every sandbox.
std::span<const SeccompRule> default_seccomp_policy();

// The namespaces a sandbox is cloned into (the cgroup namespace is entered
// later, by the sandbox itself, with unshare). The snapshot tier lets clone(2)
// create exactly this set, or none.
inline constexpr uint64_t kSandboxCloneNamespaces =
    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

// A call that the sandbox policy denies but that a snapshot must leave open
// (fully or under conditions) because creating a sandbox needs it. The
// snapshot tier drops the sandbox's rules for `syscall` and applies its own.
struct SeccompException {
  const char* syscall;
  const char* treatment;  // what the snapshot tier does instead
  const char* reason;
};

// The snapshot tier's policy, derived from default_seccomp_policy(); built once
// on first use, thread-safe.
std::span<const SeccompRule> snapshot_seccomp_policy();
// The calls where the snapshot tier departs from the sandbox policy.
std::span<const SeccompException> snapshot_seccomp_exceptions();

// How a fatal rule is enforced, and whether loading creates a listener.
enum class FatalMode {
  // SECCOMP_RET_USER_NOTIF: the call blocks, never runs, and the spawner, who
  // holds the listener, learns the syscall number and kills the sandbox.
  kNotifySpawner,
  // SECCOMP_RET_KILL_PROCESS: used where a listener cannot be created (an
  // outer filter already has one). The outcome then says "syscall unknown".
  kKillProcess,
  // The policy has no kFatal rule (compiling one is an error) and the program
  // is loaded without a listener: the kernel allows one listener per filter
  // chain (a second is EBUSY), and it belongs to the sandboxes stacked below.
  // The snapshot tier.
  kNoFatalRules,
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
// Thread-safe; aborts if the policy does not compile.
const SeccompProgram& default_seccomp_program(FatalMode mode);

// The snapshot tier's program (FatalMode::kNoFatalRules), compiled once per
// process on first use. Thread-safe; aborts if the policy does not compile.
const SeccompProgram& snapshot_seccomp_program();

// Compiles all three programs now (the runtime zygote calls this at start-up,
// so that the snapshots and sandboxes it forks never compile anything).
void precompile_seccomp_programs();

// Child side, async-signal-safe: installs `program`. Returns the listener fd
// (kNotifySpawner), 0 (kKillProcess, kNoFatalRules), or -1 with errno set.
int load_seccomp_program(const SeccompProgram& program);

// Name of a syscall number on this architecture ("finit_module"), or "#313".
std::string syscall_name(int nr);

}  // namespace sprout
