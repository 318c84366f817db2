// The sandbox's side of a spawn: everything between clone and user code.
// Async-signal-safe only (no allocation, no locks, no stdio), on the plain
// data of a SandboxChildPlan that prepare_sandbox() filled before the clone.
#include "sandbox/sandbox_child.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/unique_fd.h"
#include "protocol/setup_record.h"  // encode_failure: its child-side entry
#include "sandbox/capabilities.h"
#include "sandbox/child_report.h"
#include "sandbox/network.h"
#include "sandbox/seccomp_policy.h"  // load_seccomp_program: its child-side entry

namespace sprout {
namespace {

// How the child reports. Always to its spawner, over the report socket
// (nobody listens there any more once a spawner that does not wait for the
// setup has returned). With a setup channel (ChildOptions::setup_fd, a
// stream socket to the sandbox's owner), also there, as one setup record
// (protocol/setup_record.h). Async-signal-safe.
struct ChildReporter {
  const SandboxChildPlan& plan;
  int report_fd;
  int setup_fd;

  [[noreturn]] void fail(ChildStage stage, int object = -1) {
    const int err = errno;
    report_child_failure(report_fd, stage, err, object);
    if (setup_fd >= 0) {
      char record[setup_record::kMaxRecordBytes];
      const char* step = child_stage_name(stage);
      if (stage == ChildStage::kMount && object >= 0 &&
          static_cast<size_t>(object) < plan.mount_step_count) {
        step = plan.mount_steps[object].description;
      }
      const char* name = strerrorname_np(err);
      const char* parts[] = {step, ": ", name ? name : "unknown errno"};
      const size_t size = setup_record::encode_failure(record, parts, 3);
      [[maybe_unused]] auto sent = send(setup_fd, record, size, MSG_NOSIGNAL);
    }
    _exit(127);
  }

  // The sandbox is set up: say ready, with the seccomp listener. Always,
  // so that the spawner can tell a child about to run user code from one
  // that died during its setup without a word (both close the channel).
  bool ready(int listener) {
    if (setup_fd < 0) return send_ready_report(report_fd, listener > 0 ? listener : -1);
    const char kind = listener > 0 ? setup_record::kReadyWithListener : setup_record::kReady;
    return send_with_descriptor(setup_fd, &kind, 1, listener > 0 ? listener : -1);
  }
};

// Every signal back to its default action. Async-signal-safe.
void reset_signal_handlers() {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &default_action, nullptr);  // EINVAL for libc's own: ignored
  }
}

// Where the spawner's descriptor `spawner_fd` lives in the sandbox after the
// arrangement; -1 when the plan does not keep it.
int sandbox_number_of(const SandboxChildPlan& plan, int spawner_fd) {
  int moved = -1;
  for (size_t i = 0; i < plan.descriptor_move_count; ++i) {
    if (plan.descriptor_moves[i].from == spawner_fd) moved = plan.descriptor_moves[i].to;
  }
  return moved;
}

}  // namespace

// The child's whole setup, in order. A failure is reported as {stage, errno}
// and ends the child; success ends in execve or in the entry function.
[[noreturn]] void run_sandbox_child(const SandboxChildPlan& plan, const ChildOptions& options,
                                    int report_fd, bool handlers_cleared) {
  ChildReporter reporter{plan, report_fd, options.setup_fd};
  // 0. No signal handler of the spawner survives (clone(2) cannot ask the
  // kernel for that, as clone3's CLONE_CLEAR_SIGHAND does).
  if (!handlers_cleared) reset_signal_handlers();
  // 1. Wait until the spawner has written our id maps and placed our cgroup.
  char go = 0;
  if (retry_eintr([&] { return read(report_fd, &go, 1); }) != 1)
    reporter.fail(ChildStage::kWaitForParent);

  // 2. Become root of the new user namespace (an unprivileged id outside).
  // Raw system calls: glibc's wrappers broadcast id changes to every thread
  // it believes exists (setxid), and after clone3 from a multithreaded
  // spawner those threads are not in the child: the wrapper would hang.
  if (plan.clear_groups && syscall(SYS_setgroups, 0, nullptr) != 0)
    reporter.fail(ChildStage::kSetGroups);
  if (syscall(SYS_setresgid, 0, 0, 0) != 0) reporter.fail(ChildStage::kSetGid);
  if (syscall(SYS_setresuid, 0, 0, 0) != 0) reporter.fail(ChildStage::kSetUid);
  // Set after the uid change, which would clear it: the sandbox dies with
  // its parent instead of running on unwatched.
  prctl(PR_SET_PDEATHSIG, SIGKILL);

  // 3. Our cgroup becomes the root of what we can see of cgroups.
  if (unshare(CLONE_NEWCGROUP) != 0) reporter.fail(ChildStage::kUnshareCgroupNamespace);

  // 4. The root file system.
  int failed_step = apply_mount_steps(plan.mount_steps, plan.mount_step_count);
  if (failed_step >= 0) reporter.fail(ChildStage::kMount, failed_step);

  // 5. UTS and network namespaces.
  if (sethostname(plan.hostname, plan.hostname_size) != 0) reporter.fail(ChildStage::kHostname);
  if (bring_up_loopback() != 0) reporter.fail(ChildStage::kLoopback);

  // 6. Descriptors: only those the plan moves survive, and the report
  // channel (moved above them, close-on-exec).
  const int arranged =
      arrange_descriptors(plan.descriptor_moves, plan.descriptor_move_count, &reporter.report_fd);
  if (arranged != 0) {
    reporter.setup_fd = -1;  // where it is now is not known
    reporter.fail(ChildStage::kDescriptors);
  }
  // The setup channel now lives at the number the plan moved it to.
  if (reporter.setup_fd >= 0) reporter.setup_fd = sandbox_number_of(plan, options.setup_fd);

  // 7. Resource limits, signal mask, working directory.
  int failed_limit = apply_rlimits(plan.rlimits);
  if (failed_limit >= 0)
    reporter.fail(ChildStage::kRlimit, plan.rlimits.settings[failed_limit].resource);
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) reporter.fail(ChildStage::kSignalMask);
  if (chdir(plan.working_dir) != 0) reporter.fail(ChildStage::kChdir);

  // 8. No capabilities, no way to gain any.
  if (drop_all_capabilities(plan.last_capability) != 0) reporter.fail(ChildStage::kCapabilities);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) reporter.fail(ChildStage::kNoNewPrivs);

  // 9. Seccomp, last before user code.
  int listener = load_seccomp_program(*plan.seccomp_notify);
  if (listener < 0 && errno == EBUSY) {
    // An outer filter (ours, one level up) already has a listener.
    listener = load_seccomp_program(*plan.seccomp_kill);
  }
  if (listener < 0) reporter.fail(ChildStage::kSeccomp);
  if (!reporter.ready(listener)) reporter.fail(ChildStage::kSendReady);
  if (listener > 0) close(listener);

  // 10. User code.
  if (options.entry) {
    close(reporter.report_fd);  // EOF after the ready record: user code runs
    _exit(options.entry(options.entry_arg));
  }
  execve(plan.argv[0], plan.argv, plan.envp);
  reporter.fail(ChildStage::kExec);
}

}  // namespace sprout
