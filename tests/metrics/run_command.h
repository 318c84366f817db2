// Runs a program (promtool, curl, prometheus' API through curl) for a test:
// argv, text on its stdin, its stdout and stderr together, its exit code.
#pragma once

#include <string>
#include <vector>

namespace sprout::testing {

struct CommandOutput {
  int exit_code = -1;  // 128 + signal when killed; -1 when it could not run
  std::string output;  // stdout and stderr, interleaved as written
};

// Waits for the program to end (the caller bounds it: curl --max-time).
CommandOutput run_command(const std::vector<std::string>& argv, const std::string& input = {});

}  // namespace sprout::testing
