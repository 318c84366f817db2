// What a sandbox forked from a function snapshot runs once its isolation is
// in place (the SandboxEntry of spawn_sandbox): read one InvokeRequest from
// the invocation channel (fd 3), run the handler, write one InvokeReply.
#pragma once

#include "agent/runtime.h"

namespace sprout::agent {

inline constexpr int kInvocationChannelFd = 3;
// Largest request frame a sandbox accepts (payload plus headers).
inline constexpr size_t kMaxRequestFrame = 7 * 1024 * 1024;

int run_sandbox_entry(void* runtime);

}  // namespace sprout::agent
