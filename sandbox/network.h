// The sandbox's network namespace: loopback only, brought up by the child.
#pragma once

namespace sprout {

// Child side, async-signal-safe. Returns 0, or -1 with errno set.
int bring_up_loopback();

}  // namespace sprout
