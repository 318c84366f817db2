// The function snapshot: forked from a zygote, it lays out the function's
// code, runs its init once, then forks one sandbox per ForkSandbox command.
//
// User code (the function's init) runs here, so the snapshot confines itself
// before running it, in this order:
//   die with the supervisor -> logs to the init-log pipe -> own user, mount,
//   network, ipc and uts namespaces (uid 1000 inside = the zygote's
//   unprivileged uid outside) -> a root of its own (read-only /usr, minimal
//   /etc, the code read-only at /var/task, /dev, fresh /tmp; nothing else of
//   the host but a bind of /proc) -> function environment -> every
//   capability dropped (no_new_privs came with the zygote's exec) -> init.
// It carries no seccomp filter: a filter would bind every sandbox it forks,
// and sandboxes must still create namespaces and mount during their setup.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include "agent/code_bundle.h"
#include "agent/roles.h"
#include "agent/sandbox_entry.h"
#include "sandbox/capabilities.h"
#include "sandbox/log.h"
#include "sandbox/message_channel.h"
#include "sandbox/mounts.h"
#include "sandbox/spawn.h"
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

Result<void> write_self_file(const char* name, const std::string& text) {
  UniqueFd fd(::open((std::string("/proc/self/") + name).c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return os_error("open", std::string("/proc/self/") + name);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return os_error("write", std::string("/proc/self/") + name);
  }
  return {};
}

Result<void> enter_own_namespaces() {
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
    return os_error("unshare", "snapshot namespaces");
  }
  const std::string inside = std::to_string(kSnapshotId) + " ";
  if (auto r = write_self_file("uid_map", inside + std::to_string(uid) + " 1\n"); !r) return r;
  if (auto r = write_self_file("setgroups", "deny"); !r) return r;
  return write_self_file("gid_map", inside + std::to_string(gid) + " 1\n");
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

// Lays the code out on a tmpfs, then moves the snapshot into a root of its
// own, built by the same mount plan as a sandbox's: read-only /usr, a
// minimal /etc, the code read-only at /var/task, /dev, a fresh /tmp. The one
// difference is /proc: the snapshot shares the host's pid namespace, so it
// cannot mount a procfs of its own; it keeps a bind of the host's, which the
// kernel also requires before its sandboxes may mount theirs.
Result<void> enter_snapshot_root(const LoadFunction& load, int bundle_fd) {
  auto bundle = read_bundle(bundle_fd);
  if (!bundle) return std::unexpected(bundle.error());
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return os_error("make mounts private", "/");
  const size_t code_size = std::max<size_t>(16ull << 20, bundle->size() * 4);
  if (auto r = mount_tmpfs("/var", "mode=0755,size=" + std::to_string(code_size)); !r) return r;
  if (mkdir("/var/task", 0755) != 0) return os_error("mkdir", "/var/task");
  if (auto r = lay_out_bundle(*bundle, load.bundle_format(), load.bundle_file_name(), "/var/task");
      !r)
    return r;

  sandbox::SandboxSpec root;
  root.set_code_dir("/var/task");
  root.set_hostname("sprout");
  root.set_tmp_size_bytes(16ull << 20);
  auto* proc = root.add_binds();
  proc->set_source("/proc");
  proc->set_target("/proc");
  proc->set_writable(true);
  apply_spec_defaults(root);
  auto plan = plan_mounts(root);
  if (!plan) return std::unexpected(plan.error());
  int failed = apply_mount_plan(*plan);
  if (failed >= 0) return os_error(plan->steps[failed].description, "(snapshot root)");
  if (sethostname(root.hostname().data(), root.hostname().size()) != 0)
    return os_error("sethostname", "snapshot");
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

void redirect_output_to_null() {
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  dup3(null_fd, STDOUT_FILENO, 0);
  dup3(null_fd, STDERR_FILENO, 0);
  ::close(null_fd);
}

void handle_fork(Runtime& runtime, const PreparedSandbox& prepared, int control_fd,
                 std::vector<UniqueFd>& fds) {
  ForkResult result;
  if (fds.size() != 2) {
    result.set_error("ForkSandbox: expected 2 descriptors, got " + std::to_string(fds.size()));
    (void)send_packet(control_fd, result);
    return;
  }
  dup3(fds[0].get(), kStagedChannelFd, O_CLOEXEC);
  dup3(fds[1].get(), kStagedLogFd, O_CLOEXEC);
  runtime.before_fork();
  // The snapshot answers as soon as the sandbox exists; the sandbox sets
  // itself up meanwhile and reports to sproutd on its invocation channel.
  auto sandbox = spawn_sandbox(prepared, {.entry = run_sandbox_entry,
                                          .entry_arg = &runtime,
                                          .clone_parent = true,
                                          .return_before_setup = true,
                                          .setup_fd = kStagedChannelFd});
  runtime.after_fork_parent();
  ::close(kStagedChannelFd);
  ::close(kStagedLogFd);
  if (!sandbox) {
    result.set_error(sandbox.error().message());
    (void)send_packet(control_fd, result);
    return;
  }
  Sandbox::Parts parts = std::move(*sandbox).release();
  result.set_ok(true);
  result.set_sandbox_pid(parts.pid);
  (void)send_packet(control_fd, result, {parts.pidfd.get()});
}

}  // namespace

void run_function_snapshot(Runtime& runtime, const LoadFunction& load, int control_fd,
                           int bundle_fd, int log_fd) {
  // Our parent is the supervisor (CLONE_PARENT): die with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  dup3(null_fd, STDIN_FILENO, 0);
  ::close(null_fd);
  dup3(log_fd, STDOUT_FILENO, 0);
  dup3(log_fd, STDERR_FILENO, 0);
  ::close(log_fd);

  if (auto r = enter_own_namespaces(); !r) fail_init(control_fd, r.error());
  if (auto r = enter_snapshot_root(load, bundle_fd); !r) fail_init(control_fd, r.error());
  ::close(bundle_fd);
  apply_environment(load);
  if (drop_all_capabilities(last_capability()) != 0)
    fail_init(control_fd, os_error("drop capabilities").error());
  if (chdir("/var/task") != 0) fail_init(control_fd, os_error("chdir", "/var/task").error());

  const auto begin = std::chrono::steady_clock::now();
  InitResult init = runtime.load(load);
  init.set_init_duration_us(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - begin)
                                .count());
  runtime.flush_output();
  // Init logs end here: the supervisor reads the pipe to its end.
  redirect_output_to_null();

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
  if (!send_packet(control_fd, init) || !init.ok()) _exit(init.ok() ? 0 : 1);

  for (;;) {
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
