// The parent's side of the report channel (sandbox/child_report.h): reading
// what a child said before reaching user code, and the error text a failure
// report stands for. Used by every parent of a child path: the spawner
// (host/spawn.cc), sproutd starting a zygote (snapshot/runtime_zygote.cc),
// and the function snapshot for its own setup (agent/snapshot_role.cc).
// Parent side: may allocate.
#pragma once

#include <signal.h>

#include <string>

#include "base/errors.h"
#include "base/unique_fd.h"
#include "sandbox/child_report.h"

namespace sprout {

struct ChildSetupResult {
  bool failed = false;
  ChildReport failure{};
  // The child sent its ready record: EOF then means it reached user code.
  // Neither failed nor ready: it died during its setup without a report.
  bool ready = false;
  UniqueFd seccomp_listener;
};
// Reads reports until EOF (the child reached user code or died).
Result<ChildSetupResult> read_child_reports(int report_fd);

// The error for a child that closed its report channel without a ready
// record or a failure report; `end` is its reaped status (waitid).
Error describe_silent_child_end(const std::string& what, const siginfo_t& end);

// "<stage> <object>: ENAME (description)". `object` is what the stage worked
// on, when the parent knows it (a path, a program).
Error describe_child_failure(const ChildReport& report, std::string object = {});
Error describe_child_failure(ChildStage stage, int err, std::string object = {});

}  // namespace sprout
