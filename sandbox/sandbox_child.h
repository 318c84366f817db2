// The sandbox's child path: the whole setup between clone and user code,
// written out once, in order, in run_sandbox_child(). Async-signal-safe only,
// on a SandboxChildPlan: plain data that prepare_sandbox()
// (sandbox/prepared_sandbox.h) fills before the clone. No protobuf object,
// std::string or std::vector is touched here. The spawner's side is
// host/spawn.h.
#pragma once

#include <cstddef>

#include "sandbox/descriptors.h"
#include "sandbox/mount_apply.h"
#include "sandbox/rlimit_apply.h"

namespace sprout {

struct SeccompProgram;  // sandbox/seccomp_policy.h

// Everything the child reads, as plain data. Every pointer points into the
// PreparedSandbox that holds this plan (or to compiled seccomp programs,
// which live as long as the process).
struct SandboxChildPlan {
  // Root of the initial user namespace spawned us: setgroups(0) is allowed
  // (any other spawner has had setgroups denied).
  bool clear_groups = false;
  const MountStep* mount_steps = nullptr;
  size_t mount_step_count = 0;
  const char* hostname = "";
  size_t hostname_size = 0;
  // {spawner's fd, sandbox's fd}; everything else is closed.
  const DescriptorMove* descriptor_moves = nullptr;
  size_t descriptor_move_count = 0;
  RlimitPlan rlimits;
  const char* working_dir = "/";
  int last_capability = 0;
  const SeccompProgram* seccomp_notify = nullptr;  // preferred
  const SeccompProgram* seccomp_kill = nullptr;    // where a listener is refused
  // NUL-terminated arrays for execve; argv[0] null: an entry function runs.
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

// In-process user code for snapshot sandboxes: runs after seccomp, in the
// child, instead of execve. Its return value is the exit status.
using SandboxEntry = int (*)(void* arg);

// What the child needs of the spawn's options.
struct ChildOptions {
  SandboxEntry entry = nullptr;  // in-process user code instead of execve
  void* entry_arg = nullptr;
  // A stream socket (mapped into the child by the spec) on which the child
  // sends its setup record to the sandbox's owner; -1: none.
  int setup_fd = -1;
};

// Runs the child's setup, then execve or the entry. A failure is reported
// on `report_fd` as {stage, errno, object} and ends the child.
// `handlers_cleared`: the kernel already reset signal handlers (clone3's
// CLONE_CLEAR_SIGHAND); otherwise the child does.
[[noreturn]] void run_sandbox_child(const SandboxChildPlan& plan, const ChildOptions& options,
                                    int report_fd, bool handlers_cleared);

}  // namespace sprout
