// Child side: async-signal-safe (raw system calls, fixed buffers).
#include "sandbox/exec_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sprout {
namespace {

// Appends `text` to `buffer` (of `capacity` bytes, NUL-terminated).
void append(char* buffer, size_t capacity, size_t* used, const char* text) {
  for (; *text && *used + 1 < capacity; ++text) buffer[(*used)++] = *text;
  buffer[*used] = '\0';
}

[[noreturn]] void fail(const ExecChildPlan& plan, int report_fd, ChildStage stage) {
  const int err = errno;
  if (report_fd >= 0) {
    report_child_failure(report_fd, stage, err);
  } else {
    char line[512];
    size_t used = 0;
    const char* description = strerrordesc_np(err);
    append(line, sizeof line, &used, "sprout: ");
    append(line, sizeof line, &used, child_stage_name(stage));
    if (stage == plan.exec_stage) {
      append(line, sizeof line, &used, " ");
      append(line, sizeof line, &used, plan.path);
    }
    append(line, sizeof line, &used, ": ");
    append(line, sizeof line, &used, description ? description : "unknown error");
    append(line, sizeof line, &used, "\n");
    [[maybe_unused]] auto written = write(STDERR_FILENO, line, used);
  }
  _exit(127);
}

}  // namespace

[[noreturn]] void run_exec_child(const ExecChildPlan& plan, int report_fd) {
  // Die with the parent even if something below blocks.
  if (plan.die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
  int* keep = report_fd >= 0 ? &report_fd : nullptr;
  if (arrange_descriptors(plan.descriptor_moves, plan.descriptor_move_count, keep) != 0)
    fail(plan, report_fd, ChildStage::kDescriptors);
  // Raw system calls: glibc's setgroups/setresuid broadcast the change to
  // every thread it believes exists (setxid), and after a raw clone3 of a
  // multithreaded parent those threads are not here: the call would hang.
  if (plan.switch_ids) {
    if (syscall(SYS_setgroups, 0, nullptr) != 0) fail(plan, report_fd, ChildStage::kSetGroups);
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0)
      fail(plan, report_fd, ChildStage::kSetGid);
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0)
      fail(plan, report_fd, ChildStage::kSetUid);
  }
  // After the uid change, which would clear it.
  if (plan.die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (plan.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    fail(plan, report_fd, ChildStage::kNoNewPrivs);
  // The ready record: EOF after it means the exec went through; EOF without
  // it, that the child died here without a report.
  if (report_fd >= 0 && !send_ready_report(report_fd, -1))
    fail(plan, report_fd, ChildStage::kSendReady);
  if (plan.exec_fd >= 0) {
    // By descriptor: the program's directory need not be searchable by the
    // new ids.
    syscall(SYS_execveat, plan.exec_fd, "", plan.argv, plan.envp, AT_EMPTY_PATH);
  } else {
    execve(plan.path, plan.argv, plan.envp);
  }
  fail(plan, report_fd, plan.exec_stage);
}

}  // namespace sprout
