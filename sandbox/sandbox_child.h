// The sandbox's child path: the whole setup between clone and user code,
// written out once, in order, in run_sandbox_child(). Async-signal-safe only,
// on the plain data of a PreparedSandbox. The spawner's side is
// host/spawn.h.
#pragma once

#include "sandbox/prepared_sandbox.h"

namespace sprout {

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
[[noreturn]] void run_sandbox_child(const PreparedSandbox& p, const ChildOptions& options,
                                    int report_fd, bool handlers_cleared);

}  // namespace sprout
