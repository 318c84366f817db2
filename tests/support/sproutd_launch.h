// Starts and stops the real sproutd for a test or a test driver, so that
// every caller does it the same way.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace sprout::testing {

struct LaunchedDaemon {
  pid_t pid = -1;     // -1 when it did not get ready
  std::string error;  // why, then
  // With --http-listen: "127.0.0.1:PORT" from its "sproutd: http listening
  // on" line, and the port; empty and 0 otherwise.
  std::string http_endpoint;
  int http_port = 0;
};

// Runs `args` (args[0]: the sproutd binary) with stderr appended to
// `log_path`, and waits up to `ready_timeout` for "sproutd: ready on
// <socket>" on its stdout (after the HTTP listener's line, when it has
// one). A daemon that does not get ready is killed and reaped.
LaunchedDaemon launch_sproutd(const std::vector<std::string>& args, const std::string& log_path,
                              const std::string& socket,
                              std::chrono::milliseconds ready_timeout);

struct StoppedDaemon {
  int exit_code = -1;  // its exit status, or 128 + the signal that ended it
  bool killed = false;  // it did not stop within the grace period: SIGKILLed
};

// SIGTERM (sproutd drains), then waits up to `grace`; SIGKILL after that.
// Always reaps.
StoppedDaemon stop_sproutd(pid_t pid, std::chrono::milliseconds grace);

}  // namespace sprout::testing
