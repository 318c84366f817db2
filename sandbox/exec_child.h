// A child that only execs, with the sandbox child's machinery: the runtime
// zygote's exec of sprout-agent (snapshot/runtime_zygote.cc) and the exec
// runtime's child (agent/exec_runtime.cc). The parent fills an ExecChildPlan
// before it forks; the child arranges its descriptors with the same
// arrange_descriptors() as a sandbox and reports a failure as the same
// {stage, errno} record. Child side: async-signal-safe.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "sandbox/child_report.h"
#include "sandbox/descriptors.h"

namespace sprout {

struct ExecChildPlan {
  // PR_SET_PDEATHSIG(SIGKILL) first thing, and again after the id change
  // (which clears it).
  bool die_with_parent = false;
  const DescriptorMove* descriptor_moves = nullptr;
  size_t descriptor_move_count = 0;
  // setgroups(0), setresgid(gid), setresuid(uid), as raw system calls.
  bool switch_ids = false;
  uid_t uid = 0;
  gid_t gid = 0;
  bool no_new_privs = false;
  // The descriptor number (after the arrangement) to execveat(AT_EMPTY_PATH);
  // -1: execve(path).
  int exec_fd = -1;
  const char* path = "";  // also the object of a failed exec's message
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  ChildStage exec_stage = ChildStage::kExec;
};

// Sets up and execs. With `report_fd`, the child sends its ready record
// right before the exec (sandbox/child_report.h). A failure ends the child
// with status 127, reported as a ChildReport on `report_fd` (moved above the
// arranged descriptors, close-on-exec), or, with no report channel
// (`report_fd` < 0), as one line on stderr:
// "sprout: execve /var/task/run: No such file or directory".
[[noreturn]] void run_exec_child(const ExecChildPlan& plan, int report_fd);

}  // namespace sprout
