#include "sandbox/spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/child_report.h"
#include "sandbox/network.h"
#include "sandbox/spec_defaults.h"

namespace sprout {
namespace {

// clone3(2) has no glibc wrapper in Debian 12; the struct is spelled out here
// rather than taken from <linux/sched.h>, which clashes with <sched.h>.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};
constexpr uint64_t kClonePidfd = 0x00001000;
constexpr uint64_t kCloneClearSighand = 0x100000000ULL;
constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;

// Namespaces at clone time. The cgroup namespace is entered later, by the
// child itself, once the spawner has placed it in its cgroup (v1 placement
// happens after clone), so that the namespace's root is the sandbox's leaf.
// The snapshot tier's seccomp filter allows clone with exactly this set.
constexpr uint64_t kNamespaceFlags = kSandboxCloneNamespaces;

// How the child reports. Always to its spawner, over the report socket
// (nobody listens there any more once a spawner that does not wait for the
// setup has returned). With a setup channel (SpawnOptions::setup_fd, a
// stream socket to the sandbox's owner), also there, as one record:
//   'R'            ready, no seccomp listener
//   'L' + SCM_RIGHTS ready, with the seccomp listener
//   'F' <u16 length> <text>   setup failed: "mount tmpfs on /tmp: EPERM"
// Async-signal-safe.
struct ChildReporter {
  const PreparedSandbox& p;
  int report_fd;
  int setup_fd;

  [[noreturn]] void fail(ChildStage stage, int object = -1) {
    const int err = errno;
    report_child_failure(report_fd, stage, err, object);
    if (setup_fd >= 0) {
      char record[512];
      size_t length = 0;
      auto append = [&](const char* text) {
        for (; *text && length < sizeof record - 4; ++text) record[3 + length++] = *text;
      };
      if (stage == ChildStage::kMount && object >= 0 &&
          static_cast<size_t>(object) < p.mounts.steps.size()) {
        append(p.mounts.steps[object].description.c_str());
      } else {
        append(child_stage_name(stage));
      }
      append(": ");
      const char* name = strerrorname_np(err);
      append(name ? name : "unknown errno");
      record[0] = 'F';
      const uint16_t size = static_cast<uint16_t>(length);
      memcpy(record + 1, &size, 2);
      [[maybe_unused]] auto n = send(setup_fd, record, 3 + length, MSG_NOSIGNAL);
    }
    _exit(127);
  }

  // The sandbox is set up: hand over the seccomp listener, or say ready.
  bool ready(int listener) {
    if (setup_fd < 0) return listener <= 0 || send_seccomp_listener(report_fd, listener);
    const char kind = listener > 0 ? 'L' : 'R';
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

// clone3 when allowed; clone(2) when a seccomp filter answers clone3 with
// ENOSYS (a function snapshot's: BPF cannot read clone3's flags, it can read
// clone's). Sets *handlers_cleared when the kernel cleared signal handlers.
long clone_sandbox(CloneArgs& args, int* pidfd, bool* handlers_cleared) {
  long pid = syscall(SYS_clone3, &args, sizeof args);
  *handlers_cleared = true;
  if (pid >= 0 || errno != ENOSYS || (args.flags & kCloneIntoCgroup)) return pid;
  *handlers_cleared = false;
  const unsigned long flags =
      (args.flags & ~(kCloneClearSighand | kClonePidfd)) | kClonePidfd | args.exit_signal;
  // x86-64 argument order: flags, stack, parent_tid (receives the pidfd),
  // child_tid, tls. A null stack: the child continues on a copy of ours.
  return syscall(SYS_clone, flags, nullptr, pidfd, nullptr, nullptr);
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
[[noreturn]] void run_sandbox_child(const PreparedSandbox& p, const SpawnOptions& options,
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

Error describe_child_failure(const PreparedSandbox& p, const ChildReport& report) {
  auto stage = static_cast<ChildStage>(report.stage);
  if (stage == ChildStage::kMount && report.object >= 0 &&
      static_cast<size_t>(report.object) < p.mounts.steps.size()) {
    return Error{p.mounts.steps[report.object].description, "", report.err, {}};
  }
  if (stage == ChildStage::kRlimit) {
    return Error{
        child_stage_name(stage), "resource " + std::to_string(report.object), report.err, {}};
  }
  if (stage == ChildStage::kExec)
    return Error{child_stage_name(stage), p.spec.argv(0), report.err, {}};
  if (stage == ChildStage::kChdir)
    return Error{child_stage_name(stage), p.spec.working_dir(), report.err, {}};
  return Error{child_stage_name(stage), "", report.err, {}};
}

}  // namespace

Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               const CgroupPool* cgroups) {
  return prepare_sandbox(std::move(spec), cgroups && cgroups->enforces_memory());
}

Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               bool memory_fenced_by_cgroup) {
  apply_spec_defaults(spec);
  auto prepared = std::make_shared<PreparedSandbox>();
  auto mounts = plan_mounts(spec);
  if (!mounts) return std::unexpected(mounts.error());
  prepared->mounts = std::move(*mounts);
  prepared->id_maps = plan_id_maps(spec.outer_uid(), spec.outer_gid());
  prepared->rlimits = plan_rlimits(spec, memory_fenced_by_cgroup);
  prepared->cgroup_limits =
      CgroupLimits{spec.memory_limit_bytes(), spec.pids_limit(), spec.cpu_millicores()};
  prepared->last_cap = last_capability();
  prepared->seccomp_notify = &default_seccomp_program(FatalMode::kNotifySpawner);
  prepared->seccomp_kill = &default_seccomp_program(FatalMode::kKillProcess);

  for (const auto& mapping : spec.fds()) {
    if (mapping.parent_fd() < 0 || mapping.child_fd() < 0 || mapping.child_fd() > 255) {
      return plain_error("prepare sandbox", "descriptor mapping out of range");
    }
    for (const auto& [parent, child] : prepared->fds) {
      if (child == mapping.child_fd())
        return plain_error("prepare sandbox", "child fd mapped twice");
    }
    prepared->fds.emplace_back(mapping.parent_fd(), mapping.child_fd());
    prepared->highest_child_fd = std::max(prepared->highest_child_fd, mapping.child_fd());
  }
  if (prepared->fds.size() > 64) return plain_error("prepare sandbox", "more than 64 descriptors");

  prepared->spec = std::move(spec);
  // Pointers into the spec's own strings: stable for the PreparedSandbox's life.
  for (auto& arg : *prepared->spec.mutable_argv()) prepared->argv.push_back(arg.data());
  prepared->argv.push_back(nullptr);
  for (auto& var : *prepared->spec.mutable_env()) prepared->envp.push_back(var.data());
  prepared->envp.push_back(nullptr);
  if (!prepared->spec.argv().empty() && prepared->spec.argv(0).empty()) {
    return plain_error("prepare sandbox", "argv[0] is empty");
  }
  return prepared;
}

Result<Sandbox> spawn_sandbox(const PreparedSandbox& p, const SpawnOptions& options) {
  if (p.spec.argv().empty() && !options.entry) {
    return plain_error("spawn sandbox", "neither argv nor an entry function");
  }
  if (options.return_before_setup && options.setup_fd < 0) {
    return plain_error("spawn sandbox", "return_before_setup needs a setup channel");
  }
  CgroupLease cgroup;
  if (options.cgroups) {
    auto lease = options.cgroups->acquire(p.cgroup_limits);
    if (!lease) return std::unexpected(lease.error());
    cgroup = std::move(*lease);
  }

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return os_error("socketpair", "child report channel");
  }
  UniqueFd parent_end(pair[0]), child_end(pair[1]);

  int pidfd = -1;
  CloneArgs args{};
  args.flags = kNamespaceFlags | kClonePidfd | kCloneClearSighand;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  if (options.clone_parent) {
    args.flags |= CLONE_PARENT;  // exit_signal must then be 0
  } else {
    args.exit_signal = SIGCHLD;
  }
  const int clone_into_fd = cgroup ? cgroup->clone_into_fd() : -1;
  if (clone_into_fd >= 0) {
    args.flags |= kCloneIntoCgroup;
    args.cgroup = static_cast<uint64_t>(clone_into_fd);
  }
  const auto started = std::chrono::steady_clock::now();
  bool handlers_cleared = true;
  long pid = clone_sandbox(args, &pidfd, &handlers_cleared);
  if (pid < 0) return os_error("clone", "sandbox namespaces");
  if (pid == 0) {
    parent_end.release();  // never close in the child through a destructor
    run_sandbox_child(p, options, child_end.get(), handlers_cleared);
  }
  child_end.reset();
  UniqueFd owned_pidfd(pidfd);

  auto abort_child = [&](Error error) -> Result<Sandbox> {
    syscall(SYS_pidfd_send_signal, owned_pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t info;
    retry_eintr(
        [&] { return waitid(static_cast<idtype_t>(P_PIDFD), owned_pidfd.get(), &info, WEXITED); });
    return std::unexpected(std::move(error));
  };

  if (auto r = write_id_maps(static_cast<pid_t>(pid), p.id_maps); !r) {
    Error error = r.error();
    if (error.err == EACCES && prctl(PR_GET_DUMPABLE) == 0) {
      // /proc/<pid>/uid_map of a non-dumpable process belongs to root, and the
      // child inherits the flag from a spawner that dropped privileges
      // without exec. A freshly exec'd agent is dumpable.
      error.detail =
          "the spawner is not dumpable; exec after dropping privileges, or PR_SET_DUMPABLE";
    }
    return abort_child(std::move(error));
  }
  if (cgroup && clone_into_fd < 0) {
    if (auto r = cgroup->add_process(static_cast<pid_t>(pid)); !r) return abort_child(r.error());
  }
  char go = 1;
  if (retry_eintr([&] { return send(parent_end.get(), &go, 1, MSG_NOSIGNAL); }) != 1) {
    return abort_child(os_error("signal child to start", std::to_string(pid)).error());
  }
  if (options.return_before_setup) {
    // The child finishes its setup on its own and reports to the sandbox's
    // owner over the setup channel; its failures are no longer ours to see.
    return Sandbox(static_cast<pid_t>(pid), std::move(owned_pidfd), UniqueFd(), std::move(cgroup),
                   started, p.spec.deadline_ms());
  }
  auto reports = read_child_reports(parent_end.get());
  if (!reports) return abort_child(reports.error());
  if (reports->failed) return abort_child(describe_child_failure(p, reports->failure));

  return Sandbox(static_cast<pid_t>(pid), std::move(owned_pidfd),
                 std::move(reports->seccomp_listener), std::move(cgroup), started,
                 p.spec.deadline_ms());
}

}  // namespace sprout
