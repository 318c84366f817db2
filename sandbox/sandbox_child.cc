// The sandbox's side of a spawn: everything between clone and user code.
// Async-signal-safe only (no allocation, no locks, no stdio), on the plain
// data that prepare_sandbox() computed before the clone.
#include "sandbox/sandbox_child.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "protocol/setup_record.h"
#include "sandbox/child_report.h"
#include "sandbox/network.h"

namespace sprout {
namespace {

// How the child reports. Always to its spawner, over the report socket
// (nobody listens there any more once a spawner that does not wait for the
// setup has returned). With a setup channel (ChildOptions::setup_fd, a
// stream socket to the sandbox's owner), also there, as one setup record
// (protocol/setup_record.h). Async-signal-safe.
struct ChildReporter {
  const PreparedSandbox& p;
  int report_fd;
  int setup_fd;

  [[noreturn]] void fail(ChildStage stage, int object = -1) {
    const int err = errno;
    report_child_failure(report_fd, stage, err, object);
    if (setup_fd >= 0) {
      char record[setup_record::kMaxRecordBytes];
      const char* step = child_stage_name(stage);
      if (stage == ChildStage::kMount && object >= 0 &&
          static_cast<size_t>(object) < p.mounts.steps.size()) {
        step = p.mounts.steps[object].description.c_str();
      }
      const char* name = strerrorname_np(err);
      const char* parts[] = {step, ": ", name ? name : "unknown errno"};
      const size_t size = setup_record::encode_failure(record, parts, 3);
      [[maybe_unused]] auto n = send(setup_fd, record, size, MSG_NOSIGNAL);
    }
    _exit(127);
  }

  // The sandbox is set up: hand over the seccomp listener, or say ready.
  bool ready(int listener) {
    if (setup_fd < 0) return listener <= 0 || send_seccomp_listener(report_fd, listener);
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

// Moves the spec's descriptors to their numbers and closes everything else,
// except the report channel, which is returned (moved above every kept fd).
// Async-signal-safe.
int arrange_descriptors(const PreparedSandbox& p, int report_fd) {
  const int above = p.highest_child_fd + 1;
  int report = fcntl(report_fd, F_DUPFD_CLOEXEC, above + static_cast<int>(p.fds.size()));
  if (report < 0) return -1;
  // Two passes through temporaries so that a target number that is also some
  // other mapping's source is not clobbered before it is read.
  int temporaries[64];
  if (p.fds.size() > 64) {
    errno = EMFILE;
    return -1;
  }
  for (size_t i = 0; i < p.fds.size(); ++i) {
    temporaries[i] = fcntl(p.fds[i].first, F_DUPFD_CLOEXEC, report + 1);
    if (temporaries[i] < 0) return -1;
  }
  for (size_t i = 0; i < p.fds.size(); ++i) {
    if (dup3(temporaries[i], p.fds[i].second, 0) < 0) return -1;
  }
  // Everything between the kept numbers and the report channel, and above it.
  if (syscall(SYS_close_range, above, report - 1, 0) != 0) return -1;
  if (syscall(SYS_close_range, report + 1, ~0U, 0) != 0) return -1;
  for (int fd = 0; fd < above; ++fd) {
    bool kept = false;
    for (const auto& [parent_fd, child_fd] : p.fds) kept |= child_fd == fd;
    if (kept) continue;
    close(fd);
    if (fd <= 2) {
      // Programs assume 0, 1 and 2 are open; give them /dev/null, not a
      // number that the next open() would silently take.
      int null_fd = open("/dev/null", O_RDWR);
      if (null_fd < 0) return -1;
      if (null_fd != fd) {
        if (dup3(null_fd, fd, 0) < 0) return -1;
        close(null_fd);
      }
    }
  }
  return report;
}

// The child's whole setup, in order. Async-signal-safe only: no allocation,
// no locks, no stdio. A failure is reported as {stage, errno} and ends the
// child; success ends in execve or in the entry function.
}  // namespace

[[noreturn]] void run_sandbox_child(const PreparedSandbox& p, const ChildOptions& options,
                                    int report_fd, bool handlers_cleared) {
  ChildReporter reporter{p, report_fd, options.setup_fd};
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
  if (p.id_maps.spawner_is_root && syscall(SYS_setgroups, 0, nullptr) != 0)
    reporter.fail(ChildStage::kSetGroups);
  if (syscall(SYS_setresgid, 0, 0, 0) != 0) reporter.fail(ChildStage::kSetGid);
  if (syscall(SYS_setresuid, 0, 0, 0) != 0) reporter.fail(ChildStage::kSetUid);
  // Set after the uid change, which would clear it: the sandbox dies with
  // its parent instead of running on unwatched.
  prctl(PR_SET_PDEATHSIG, SIGKILL);

  // 3. Our cgroup becomes the root of what we can see of cgroups.
  if (unshare(CLONE_NEWCGROUP) != 0) reporter.fail(ChildStage::kUnshareCgroupNamespace);

  // 4. The root file system.
  int failed_step = apply_mount_plan(p.mounts);
  if (failed_step >= 0) reporter.fail(ChildStage::kMount, failed_step);

  // 5. UTS and network namespaces.
  const std::string& hostname = p.spec.hostname();
  if (sethostname(hostname.data(), hostname.size()) != 0) reporter.fail(ChildStage::kHostname);
  if (bring_up_loopback() != 0) reporter.fail(ChildStage::kLoopback);

  // 6. Descriptors: only those named in the spec survive.
  report_fd = arrange_descriptors(p, report_fd);
  if (report_fd < 0) _exit(127);  // the channel itself is gone; EOF tells the parent
  reporter.report_fd = report_fd;
  if (reporter.setup_fd >= 0) {
    // The setup channel now lives at the number the spec mapped it to.
    int moved = -1;
    for (const auto& [parent_fd, child_fd] : p.fds) {
      if (parent_fd == reporter.setup_fd) moved = child_fd;
    }
    reporter.setup_fd = moved;
  }

  // 7. Resource limits, signal mask, working directory.
  int failed_limit = apply_rlimits(p.rlimits);
  if (failed_limit >= 0)
    reporter.fail(ChildStage::kRlimit, p.rlimits.settings[failed_limit].resource);
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) reporter.fail(ChildStage::kSignalMask);
  if (chdir(p.spec.working_dir().c_str()) != 0) reporter.fail(ChildStage::kChdir);

  // 8. No capabilities, no way to gain any.
  if (drop_all_capabilities(p.last_cap) != 0) reporter.fail(ChildStage::kCapabilities);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) reporter.fail(ChildStage::kNoNewPrivs);

  // 9. Seccomp, last before user code.
  int listener = load_seccomp_program(*p.seccomp_notify);
  if (listener < 0 && errno == EBUSY) {
    // An outer filter (ours, one level up) already has a listener.
    listener = load_seccomp_program(*p.seccomp_kill);
  }
  if (listener < 0) reporter.fail(ChildStage::kSeccomp);
  if (!reporter.ready(listener)) reporter.fail(ChildStage::kSendSeccompListener);
  if (listener > 0) close(listener);

  // 10. User code.
  if (options.entry) {
    close(report_fd);  // EOF: setup succeeded
    _exit(options.entry(options.entry_arg));
  }
  execve(p.argv[0], p.argv.data(), p.envp.data());
  reporter.fail(ChildStage::kExec);
}

}  // namespace sprout
