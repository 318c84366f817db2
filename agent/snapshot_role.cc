// The function snapshot: forked by its tenant's zygote into fresh user, pid,
// mount, network, ipc and uts namespaces, it is pid 1 of its own pid
// namespace. It confines itself, receives the function's code and
// environment from sproutd on its own channel, runs the init once, then
// forks one sandbox per ForkSandbox command.
//
// User code (the init, and the runtime's at-fork hooks) runs here, so the
// snapshot is a sandbox of the first tier before any of it runs, in this order:
//   logs to the init-log pipe -> wait for LoadFunction, which sproutd sends
//   only once it has written our id maps (uid/gid 1000 inside = a host id
//   unique to this function) and placed us in our cgroup leaf (the
//   function's memory, pids and cpu limits) -> become 1000 -> die with
//   sproutd -> own cgroup namespace -> a root of its own (read-only /usr,
//   minimal /etc, the code read-only at /var/task, the function's read-only
//   host directories at /mnt/<name> (detached trees sproutd made and passed),
//   /dev, fresh /tmp, a fresh /proc of our own pid namespace; nothing else
//   of the host) -> function
//   environment -> every capability dropped -> the snapshot-tier seccomp
//   filter (no_new_privs came with the zygote's exec) -> init.
// The snapshot-tier filter denies what the sandbox filter denies, except the
// few calls that creating a sandbox needs (sandbox/seccomp_policy.h).
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include "agent/code_bundle.h"
#include "agent/roles.h"
#include "agent/sandbox_entry.h"
#include "base/log.h"
#include "host/spawn.h"
#include "protocol/message_channel.h"
#include "sandbox/capabilities.h"
#include "sandbox/child_report_reader.h"
#include "sandbox/descriptors.h"
#include "sandbox/mount_plan.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/spec_defaults.h"

namespace sprout::agent {
namespace {

// Where the descriptors of one fork wait in the snapshot, so that the
// prepared descriptor map is the same for every sandbox.
constexpr int kStagedChannelFd = 100;
constexpr int kStagedLogFd = 101;
constexpr size_t kMaxBundleBytes = 256ull << 20;
// The snapshot's ids inside its own user namespace. Not 0 on purpose: the
// kernel lets a process without CAP_SETFCAP map a child namespace's root only
// onto a non-root id of its own namespace (verify_root_map), and the snapshot
// has dropped every capability before it forks sandboxes.
constexpr uid_t kSnapshotId = 1000;

// A failed setup step, told as a sandbox child tells it ({stage, errno}, the
// text built by describe_child_failure()), with the errno of the failed call.
std::unexpected<Error> setup_error(ChildStage stage, int err, std::string object = {}) {
  return std::unexpected(describe_child_failure(stage, err, std::move(object)));
}

// Becomes uid/gid 1000 of our user namespace: the host id that sproutd
// mapped it to, unique to this function. Raw system calls, as on every path
// right after a clone. The capabilities of our own namespace stay (its root
// is unmapped, so the kernel sees no change away from root): they are
// needed for the mounts below and dropped before the init.
Result<void> become_snapshot_user() {
  if (syscall(SYS_setresgid, kSnapshotId, kSnapshotId, kSnapshotId) != 0)
    return setup_error(ChildStage::kSetGid, errno, "snapshot");
  if (syscall(SYS_setresuid, kSnapshotId, kSnapshotId, kSnapshotId) != 0)
    return setup_error(ChildStage::kSetUid, errno, "snapshot");
  // The id change made us non-dumpable; our sandboxes inherit that, and the
  // kernel refuses id maps for a non-dumpable process. Only processes of
  // this function's own host id could use it, and none of them can name us.
  if (prctl(PR_SET_DUMPABLE, 1) != 0) return setup_error(ChildStage::kDumpable, errno);
  return {};
}

Result<void> mount_tmpfs(const char* target, const std::string& options) {
  if (mount("sprout-snapshot", target, "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return os_error("mount tmpfs on", target);
  }
  return {};
}

Result<std::string> read_bundle(int bundle_fd) {
  struct stat st;
  if (fstat(bundle_fd, &st) != 0) return os_error("stat", "code bundle");
  if (static_cast<size_t>(st.st_size) > kMaxBundleBytes)
    return plain_error("read bundle", "larger than 256 MiB");
  std::string bundle(st.st_size, '\0');
  if (pread(bundle_fd, bundle.data(), bundle.size(), 0) != st.st_size)
    return os_error("read", "code bundle");
  return bundle;
}

// The read-only host directories sproutd passed: one descriptor per name,
// after the bundle's. The names become path components, so they are checked
// again here rather than trusted.
Result<void> check_read_only_mounts(const LoadFunction& load, size_t descriptors) {
  const auto& names = load.read_only_mount_names();
  if (descriptors != 1 + static_cast<size_t>(names.size())) {
    return plain_error("LoadFunction", "expected " + std::to_string(1 + names.size()) +
                                           " descriptors, got " + std::to_string(descriptors));
  }
  for (int i = 0; i < names.size(); ++i) {
    if (!is_read_only_mount_name(names[i]))
      return plain_error("LoadFunction", "read-only mount name not a bucket name: " + names[i]);
    for (int j = 0; j < i; ++j) {
      if (names[j] == names[i])
        return plain_error("LoadFunction", "read-only mount name given twice: " + names[i]);
    }
  }
  return {};
}

// Lays the code out on a tmpfs, then moves the snapshot into a root of its
// own, built by the same mount plan as a sandbox's: read-only /usr, a
// minimal /etc, the code read-only at /var/task, the read-only host
// directories at /mnt/<name>, /dev, a fresh /tmp and a fresh /proc of the
// snapshot's own pid namespace (which its sandboxes need fully visible
// before they may mount theirs). `load_fds`: the bundle, then the trees.
Result<void> enter_snapshot_root(const LoadFunction& load, const std::vector<UniqueFd>& load_fds) {
  const int bundle_fd = load_fds[0].get();
  auto bundle = read_bundle(bundle_fd);
  if (!bundle) return std::unexpected(bundle.error());
  // The copy is wiped once laid out: the snapshot keeps no second image of
  // the code in the memory its sandboxes are forked from.
  struct Wipe {
    std::string& bytes;
    ~Wipe() {
      explicit_bzero(bytes.data(), bytes.size());
      std::string().swap(bytes);
    }
  } wipe{*bundle};
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return os_error("make mounts private", "/");
  // Room for what the bundle unpacks to (a zip may be compressed far more
  // than 4x), plus slack for the file system's own blocks; tmpfs pages count
  // against the function's memory limit, so a large unpack needs memory_mb.
  auto unpacked = bundle_unpacked_bytes(*bundle, load.bundle_format());
  if (!unpacked) return std::unexpected(unpacked.error());
  const uint64_t code_size =
      std::max<uint64_t>({16ull << 20, bundle->size() * 4, *unpacked + *unpacked / 8 + (1ull << 20)});
  if (auto r = mount_tmpfs("/var", "mode=0755,size=" + std::to_string(code_size)); !r) return r;
  if (mkdir("/var/task", 0755) != 0) return os_error("mkdir", "/var/task");
  if (auto r = lay_out_bundle(*bundle, load.bundle_format(), load.bundle_file_name(), "/var/task");
      !r)
    return r;

  sandbox::SandboxSpec root;
  root.set_code_dir("/var/task");
  root.set_hostname("sprout");
  root.set_tmp_size_bytes(16ull << 20);
  for (int i = 0; i < load.read_only_mount_names_size(); ++i) {
    auto* attached = root.add_attached_mounts();
    attached->set_fd(load_fds[1 + i].get());
    attached->set_target(std::string(kReadOnlyMountParent) + "/" + load.read_only_mount_names(i));
  }
  apply_spec_defaults(root);
  auto plan = plan_mounts(root);
  if (!plan) return std::unexpected(plan.error());
  const std::vector<MountStep> steps = plan->child_steps();
  int failed = apply_mount_steps(steps.data(), steps.size());
  if (failed >= 0) return os_error(plan->steps[failed].description, "(snapshot root)");
  if (sethostname(root.hostname().data(), root.hostname().size()) != 0)
    return setup_error(ChildStage::kHostname, errno, "snapshot");
  return {};
}

void apply_environment(const LoadFunction& load) {
  clearenv();
  setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
  setenv("LANG", "C.UTF-8", 1);
  setenv("LAMBDA_TASK_ROOT", "/var/task", 1);
  setenv("AWS_LAMBDA_FUNCTION_NAME", load.function().name().c_str(), 1);
  setenv("AWS_LAMBDA_FUNCTION_VERSION", load.function().version().c_str(), 1);
  setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
         std::to_string(load.function().memory_limit_mb()).c_str(), 1);
  for (const auto& entry : load.sandbox().env()) {
    auto eq = entry.find('=');
    if (eq != std::string::npos)
      setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1);
  }
}

[[noreturn]] void fail_init(int control_fd, const Error& error) {
  (void)send_packet(control_fd, init_error("Runtime.SnapshotSetupError", error.message()));
  _exit(1);
}

// Ends the init logs: sproutd reads the init-log pipe to its end, and
// whatever the snapshot printed later would otherwise land in it.
Result<void> redirect_output_to_null() {
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) return os_error("open", "/dev/null");
  for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
    if (retry_eintr([&] { return dup3(null_fd.get(), fd, 0); }) < 0)
      return os_error("end the init logs: dup3 /dev/null onto", std::to_string(fd));
  }
  return {};
}

void handle_fork(Runtime& runtime, const PreparedSandbox& prepared, int control_fd,
                 std::vector<UniqueFd>& fds) {
  ForkResult result;
  if (fds.size() != 2) {
    result.set_error("ForkSandbox: expected 2 descriptors, got " + std::to_string(fds.size()));
    (void)send_packet(control_fd, result);
    return;
  }
  // A failed staging would hand the sandbox whatever else holds those
  // numbers: answer with the error instead.
  if (retry_eintr([&] { return dup3(fds[0].get(), kStagedChannelFd, O_CLOEXEC); }) < 0 ||
      retry_eintr([&] { return dup3(fds[1].get(), kStagedLogFd, O_CLOEXEC); }) < 0) {
    result.set_error(os_error("ForkSandbox: stage descriptors").error().message());
    ::close(kStagedChannelFd);
    ::close(kStagedLogFd);
    (void)send_packet(control_fd, result);
    return;
  }
  // The function's before-fork hooks run here, in the confined snapshot;
  // sproutd waits for our answer only until its fork deadline.
  runtime.before_fork();
  // The sandbox is our child: a pid-namespace init cannot use CLONE_PARENT.
  // We answer as soon as it exists; it sets itself up meanwhile, reports to
  // sproutd on its invocation channel, and waits for sproutd's go.
  auto sandbox = spawn_sandbox(prepared, {.entry = run_sandbox_entry,
                                          .entry_arg = &runtime,
                                          .return_before_setup = true,
                                          .setup_fd = kStagedChannelFd});
  ::close(kStagedChannelFd);
  ::close(kStagedLogFd);
  if (!sandbox) {
    runtime.after_fork_parent();
    result.set_error(sandbox.error().message());
    (void)send_packet(control_fd, result);
    return;
  }
  Sandbox::Parts parts = std::move(*sandbox).release();
  result.set_ok(true);
  result.set_sandbox_pid(parts.pid);
  (void)send_packet(control_fd, result, {parts.pidfd.get()});
  // After the answer: the function's after-fork hooks in the parent must
  // not delay the invocation.
  runtime.after_fork_parent();
}

// Runs once, after the init and the sandbox preparation, before the first
// fork: whatever the snapshot leaves for its sandboxes to do on their first
// invocation is done here once, instead of in every sandbox, where each
// page it writes is a copy-on-write fault (11-29 us on paravirtualized hosts;
// docs/benchmarks.md has the counts).
void park_warm(Runtime& runtime) {
  // The runtime's own invocation path, once, with a no-op handler: one-time
  // initializations (Python's json and time machinery, lazy imports,
  // caches) then live in the snapshot's memory.
  runtime.warm_up();
  // Setup (compiling the seccomp programs, the protobuf messages above)
  // leaves hundreds of small free chunks in malloc's fast bins. The first
  // allocation of 1 KiB or more in a sandbox would consolidate them, writing
  // pages all over the heap: ~78 faults per python3 invocation. mallopt()
  // consolidates the fast bins before it changes a setting, so setting the
  // default fast-bin limit again does that work here, once.
  mallopt(M_MXFAST, 64 * sizeof(size_t) / 4);
}

// Reaps every child that ended: sandboxes (their exit statuses reach sproutd
// through their pidfds) and whatever the init left behind.
void reap_children() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

}  // namespace

void run_function_snapshot(Runtime& runtime, int control_fd, int log_fd) {
  // The arrangement of every child path (sandbox/descriptors.h): /dev/null
  // on 0, the init-log pipe on 1 and 2, the control socket where it is;
  // nothing else of the zygote's.
  const DescriptorMove moves[] = {
      {.from = log_fd, .to = STDOUT_FILENO},
      {.from = log_fd, .to = STDERR_FILENO},
      {.from = control_fd, .to = control_fd, .close_on_exec = true},
  };
  if (arrange_descriptors(moves, std::size(moves), nullptr) != 0)
    fail_init(control_fd, describe_child_failure(ChildStage::kDescriptors, errno));

  // sproutd sends the function only once our id maps are written and we are
  // in our cgroup: nothing of the function exists here before that.
  LoadFunction load;
  std::vector<UniqueFd> load_fds;
  if (!receive_packet(control_fd, load, &load_fds)) _exit(1);
  if (auto r = check_read_only_mounts(load, load_fds.size()); !r)
    fail_init(control_fd, r.error());
  if (auto r = become_snapshot_user(); !r) fail_init(control_fd, r.error());
  // Die with sproutd (our parent, through CLONE_PARENT); set after the id
  // change, which clears it. Our pid namespace, and every process of the
  // function with it, ends with us.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Our cgroup (placed by sproutd) becomes the root of what we see of cgroups.
  if (unshare(CLONE_NEWCGROUP) != 0)
    fail_init(control_fd, setup_error(ChildStage::kUnshareCgroupNamespace, errno).error());
  if (auto r = enter_snapshot_root(load, load_fds); !r) fail_init(control_fd, r.error());
  // The bundle and the (now attached) trees: nothing of them stays open for
  // the function's code.
  load_fds.clear();
  apply_environment(load);
  if (drop_all_capabilities(last_capability()) != 0)
    fail_init(control_fd, setup_error(ChildStage::kCapabilities, errno).error());
  if (chdir("/var/task") != 0)
    fail_init(control_fd, setup_error(ChildStage::kChdir, errno, "/var/task").error());
  // Last before user code; compiled in the zygote, inherited ready.
  if (load_seccomp_program(snapshot_seccomp_program()) < 0)
    fail_init(control_fd, setup_error(ChildStage::kSeccomp, errno, "snapshot tier").error());

  const auto begin = std::chrono::steady_clock::now();
  InitResult init = runtime.load(load);
  init.set_init_duration_us(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - begin)
                                .count());
  runtime.flush_output();
  // Init logs end here: the supervisor reads the pipe to its end.
  if (auto r = redirect_output_to_null(); !r && init.ok())
    init = init_error("Runtime.SnapshotSetupError", r.error().message());

  std::optional<std::shared_ptr<const PreparedSandbox>> prepared;
  if (init.ok()) {
    sandbox::SandboxSpec spec = load.sandbox();
    spec.clear_argv();
    spec.clear_fds();
    // The snapshot's own root is already the sandbox's: inherit it.
    spec.set_inherit_root(true);
    spec.set_working_dir("/var/task");
    auto add_fd = [&spec](int parent, int child) {
      auto* mapping = spec.add_fds();
      mapping->set_parent_fd(parent);
      mapping->set_child_fd(child);
    };
    add_fd(kStagedChannelFd, kInvocationChannelFd);
    add_fd(kStagedLogFd, STDOUT_FILENO);
    add_fd(kStagedLogFd, STDERR_FILENO);
    auto made = prepare_sandbox(std::move(spec), load.memory_fenced_by_cgroup());
    if (!made) {
      init = init_error("Runtime.SnapshotSetupError", made.error().message());
    } else {
      prepared = std::move(*made);
    }
  }
  if (init.ok()) park_warm(runtime);
  if (!send_packet(control_fd, init) || !init.ok()) _exit(init.ok() ? 0 : 1);

  // As pid 1 we reap every orphan of our namespace; SIGCHLD arrives on a
  // descriptor beside the control channel. Sandboxes unblock it for
  // themselves during their setup.
  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child_signal, nullptr);
  UniqueFd children(signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK));
  for (;;) {
    reap_children();
    pollfd watched[2] = {{control_fd, POLLIN, 0}, {children.get(), POLLIN, 0}};
    if (poll(watched, children ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      // A snapshot that cannot watch its channel ends (sproutd sees it and
      // rebuilds it) rather than spin through its CPU quota.
      _exit(1);
    }
    if (watched[1].revents & POLLIN) {
      signalfd_siginfo info[8];
      while (read(children.get(), info, sizeof info) > 0) {
      }
      continue;
    }
    if (!(watched[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    SnapshotCommand command;
    std::vector<UniqueFd> fds;
    auto received = receive_packet(control_fd, command, &fds);
    if (!received) _exit(0);  // the supervisor closed our channel
    switch (command.command_case()) {
      case SnapshotCommand::kFork:
        handle_fork(runtime, **prepared, control_fd, fds);
        break;
      case SnapshotCommand::kShutdown:
        _exit(0);
      default:
        break;
    }
  }
}

}  // namespace sprout::agent
