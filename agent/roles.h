// The agent's roles. Each runs until its control channel closes or it is
// told to shut down, and never returns.
#pragma once

#include <string>
#include <vector>

#include "agent/runtime.h"

namespace sprout::agent {

// Runtime zygote: initializes the runtime once, reports ZygoteReady, then
// forks a bare function snapshot per SpawnSnapshot command.
[[noreturn]] void run_zygote(Runtime& runtime, int control_fd,
                             const std::vector<std::string>& pre_imports);

// Function snapshot, in the child of a zygote fork (pid 1 of fresh
// namespaces). Descriptors as in SpawnSnapshot: its own control socket and
// the init log pipe. It receives LoadFunction on the control socket.
[[noreturn]] void run_function_snapshot(Runtime& runtime, int control_fd, int log_fd);

}  // namespace sprout::agent
