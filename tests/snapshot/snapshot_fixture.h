// Fixture of the snapshot tests: a cgroup pool, a zygote per runtime on
// demand, and helpers that load a function from source text and invoke it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "host/cgroup_pool.h"
#include "snapshot/host_ids.h"
#include "snapshot/runtime_zygote.h"
#include "tests/support/wait_until.h"

namespace sprout::testing {

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  RuntimeZygote& zygote(agent::RuntimeKind runtime);
  // A python3 function from one source file named `file`.
  FunctionDefinition python_function(const std::string& source, const std::string& handler,
                                     const std::string& file = "fn.py");
  LoadOutcome load(const FunctionDefinition& definition,
                   agent::RuntimeKind runtime = agent::PYTHON3);
  // Loads and asserts the init succeeded.
  std::unique_ptr<FunctionSnapshot> load_ok(const FunctionDefinition& definition,
                                            agent::RuntimeKind runtime = agent::PYTHON3);
  InvocationResult invoke(FunctionSnapshot& snapshot, const std::string& payload,
                          uint32_t timeout_ms = 0);

  // A fresh host id for a snapshot or zygote (the test range).
  HostIdLease host_id();

  std::unique_ptr<CgroupPool> pool_;
  std::optional<HostIdRange> ids_;
  std::map<agent::RuntimeKind, std::unique_ptr<RuntimeZygote>> zygotes_;
};

std::string read_file(const std::string& path);

}  // namespace sprout::testing
