#include "host/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/child_report_reader.h"
#include "sandbox/sandbox_child.h"
#include "sandbox/seccomp_policy.h"

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

// The error a failed child's report stands for, with what only the parent
// knows: the mount step's text, the resource, the program, the directory.
Error describe_sandbox_failure(const PreparedSandbox& prepared, const ChildReport& report) {
  auto stage = static_cast<ChildStage>(report.stage);
  if (stage == ChildStage::kMount && report.object >= 0 &&
      static_cast<size_t>(report.object) < prepared.mounts.steps.size()) {
    return Error{prepared.mounts.steps[report.object].description, "", report.err, {}};
  }
  switch (stage) {
    case ChildStage::kRlimit:
      return describe_child_failure(report, "resource " + std::to_string(report.object));
    case ChildStage::kExec:
      return describe_child_failure(report, prepared.spec.argv(0));
    case ChildStage::kChdir:
      return describe_child_failure(report, prepared.spec.working_dir());
    default:
      return describe_child_failure(report);
  }
}

}  // namespace

Result<std::shared_ptr<const PreparedSandbox>> prepare_sandbox(sandbox::SandboxSpec spec,
                                                               const CgroupPool* cgroups) {
  return prepare_sandbox(std::move(spec), cgroups && cgroups->enforces_memory());
}

Result<Sandbox> spawn_sandbox(const PreparedSandbox& prepared, const SpawnOptions& options) {
  if (prepared.spec.argv().empty() && !options.entry) {
    return plain_error("spawn sandbox", "neither argv nor an entry function");
  }
  if (options.return_before_setup && options.setup_fd < 0) {
    return plain_error("spawn sandbox", "return_before_setup needs a setup channel");
  }
  CgroupLease cgroup;
  if (options.cgroups) {
    auto lease = options.cgroups->acquire(prepared.cgroup_limits);
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
    // From here on the child reads only prepared.child, plain data.
    run_sandbox_child(
        prepared.child,
        {.entry = options.entry, .entry_arg = options.entry_arg, .setup_fd = options.setup_fd},
        child_end.get(), handlers_cleared);
  }
  child_end.reset();
  UniqueFd owned_pidfd(pidfd);

  // Kills the child (if it still runs) and reaps it; returns how it ended.
  auto kill_and_reap = [&] {
    syscall(SYS_pidfd_send_signal, owned_pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t info{};
    retry_eintr(
        [&] { return waitid(static_cast<idtype_t>(P_PIDFD), owned_pidfd.get(), &info, WEXITED); });
    return info;
  };
  auto abort_child = [&](Error error) -> Result<Sandbox> {
    kill_and_reap();
    return std::unexpected(std::move(error));
  };

  if (auto r = write_id_maps(static_cast<pid_t>(pid), prepared.id_maps); !r) {
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
                   started, prepared.spec.deadline_ms());
  }
  auto reports = read_child_reports(parent_end.get());
  if (!reports) return abort_child(reports.error());
  if (reports->failed) return abort_child(describe_sandbox_failure(prepared, reports->failure));
  // EOF without the ready record: the child died during its setup (killed
  // by a signal, or its report lost) and never ran user code. Not a sandbox.
  if (!reports->ready)
    return std::unexpected(describe_silent_child_end("sandbox setup", kill_and_reap()));

  return Sandbox(static_cast<pid_t>(pid), std::move(owned_pidfd),
                 std::move(reports->seccomp_listener), std::move(cgroup), started,
                 prepared.spec.deadline_ms());
}

}  // namespace sprout
