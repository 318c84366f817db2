// Shared fixture of the sandbox tests: a cgroup pool of its own, a temporary
// code directory holding a copy of sandbox_probe, and run_probe(), which
// spawns the probe in a real sandbox and returns its outcome and output.
// Everything it creates is removed in TearDown.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "host/cgroup_pool.h"
#include "host/spawn.h"
#include "tests/support/wait_until.h"

namespace sprout::testing {

struct ProbeRun {
  Result<Outcome> outcome = plain_error("probe", "not run");
  std::string output;  // the probe's stdout
};

using SpecTweak = std::function<void(sandbox::SandboxSpec&)>;

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  ProbeRun run_probe(const std::vector<std::string>& args, const SpecTweak& tweak = {});
  // Spawn only; the caller waits.
  Result<Sandbox> spawn_probe(const std::vector<std::string>& args, const SpecTweak& tweak,
                              int stdout_fd);

  std::string work_dir_;  // /tmp/sprout-test-XXXXXX (mode 0755)
  std::string code_dir_;  // work_dir_/code, holds sandbox_probe
  std::unique_ptr<CgroupPool> pool_;
};

// "ok 3" -> true; "err EPERM" -> false.
inline bool succeeded(const std::string& output) { return output.rfind("ok", 0) == 0; }

}  // namespace sprout::testing
