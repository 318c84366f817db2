// Starts the real sproutd for a test or a test driver and waits for its
// ready line, so that every caller starts it the same way.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace sprout::testing {

struct LaunchedDaemon {
  pid_t pid = -1;     // -1 when it did not get ready
  std::string error;  // why, then
};

// Runs `args` (args[0]: the sproutd binary) with stderr appended to
// `log_path`, and waits up to `ready_timeout` for "sproutd: ready on
// <socket>" on its stdout. A daemon that does not get ready is killed and
// reaped.
LaunchedDaemon launch_sproutd(const std::vector<std::string>& args, const std::string& log_path,
                              const std::string& socket,
                              std::chrono::milliseconds ready_timeout);

}  // namespace sprout::testing
