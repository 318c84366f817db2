// The parent's side of the report channel (sandbox/child_report.h): reading
// what a child said before reaching user code, and the error text a failure
// report stands for. Used by every parent of a child path: the spawner
// (host/spawn.cc), sproutd starting a zygote (snapshot/runtime_zygote.cc),
// and the function snapshot for its own setup (agent/snapshot_role.cc).
// Parent side: may allocate.
#pragma once

#include <string>

#include "base/errors.h"
#include "base/unique_fd.h"
#include "sandbox/child_report.h"

namespace sprout {

struct ChildSetupResult {
  bool failed = false;
  ChildReport failure{};
  UniqueFd seccomp_listener;
};
// Reads reports until EOF (the child reached user code or died).
Result<ChildSetupResult> read_child_reports(int report_fd);

// "<stage> <object>: ENAME (description)". `object` is what the stage worked
// on, when the parent knows it (a path, a program).
Error describe_child_failure(const ChildReport& report, std::string object = {});
Error describe_child_failure(ChildStage stage, int err, std::string object = {});

}  // namespace sprout
