// What a sandbox forked from a function snapshot runs once its isolation is
// in place (the SandboxEntry of spawn_sandbox): read one InvokeRequest from
// the invocation channel (fd 3), run the handler, write one InvokeReply.
#pragma once

#include "agent/runtime.h"

namespace sprout::agent {

inline constexpr int kInvocationChannelFd = 3;
// The byte sproutd sends on the invocation channel once the sandbox is in
// its cgroup; the sandbox runs no function code before it. Cold: the
// request follows at once. Pre-forked: warm up first (Runtime::warm_up),
// then say so with kWarmByteValue (protocol/setup_record.h), then wait.
inline constexpr char kPlacedByteValue = 'G';
inline constexpr char kPlacedPreforkByteValue = 'P';

int run_sandbox_entry(void* arg);  // arg: the Runtime

}  // namespace sprout::agent
