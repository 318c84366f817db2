// The agent's roles. Each runs until its control channel closes or it is
// told to shut down, and never returns.
#pragma once

#include <string>
#include <vector>

#include "agent/runtime.h"

namespace sprout::agent {

// Runtime zygote: initializes the runtime once, reports ZygoteReady, then
// forks a function snapshot per LoadFunction command.
[[noreturn]] void run_zygote(Runtime& runtime, int control_fd,
                             const std::vector<std::string>& pre_imports);

// Function snapshot, in the child of a zygote fork. Descriptors as in
// LoadFunction: its own control socket, the bundle memfd, the init log pipe.
[[noreturn]] void run_function_snapshot(Runtime& runtime, const LoadFunction& load, int control_fd,
                                        int bundle_fd, int log_fd);

}  // namespace sprout::agent
