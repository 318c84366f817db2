#include "snapshot/runtime_zygote.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "base/log.h"
#include "protocol/message_channel.h"
#include "sandbox/spec_defaults.h"
#include "sandbox/child_report_reader.h"
#include "sandbox/exec_child.h"
#include "snapshot/log_tail.h"

namespace sprout {
namespace {

constexpr int kAgentControlFd = 3;
// Where the agent's executable waits for execveat (close-on-exec).
constexpr int kAgentExecFd = 5;
// The snapshot's ids inside its own user namespace (see agent/snapshot_role.cc).
constexpr uid_t kSnapshotInsideId = 1000;

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Waits until `fd` is readable, draining `logs` meanwhile. False on timeout
// or when the process behind `pidfd` ends first.
bool wait_readable(int fd, int pidfd, int logs, LogTail* tail,
                   std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    pollfd fds[3] = {{fd, POLLIN, 0}, {pidfd, POLLIN, 0}, {logs, POLLIN, 0}};
    int ready = poll(fds, logs >= 0 ? 3 : 2, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    if (logs >= 0 && (fds[2].revents & (POLLIN | POLLHUP))) {
      char buffer[4096];
      ssize_t n = read(logs, buffer, sizeof buffer);
      if (n > 0) tail->append(std::string_view(buffer, n));
      if (n == 0) logs = -1;  // EOF: the init is over, its logs are complete
    }
    if (fds[0].revents) return true;
    if (fds[1].revents) return false;
  }
}

void drain(int fd, LogTail* tail) {
  char buffer[4096];
  ssize_t n;
  while ((n = retry_eintr([&] { return read(fd, buffer, sizeof buffer); })) > 0)
    tail->append(std::string_view(buffer, n));
}

Result<UniqueFd> sealed_memfd(const std::string& bytes) {
  UniqueFd fd(memfd_create("sprout-bundle", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return os_error("memfd_create", "code bundle");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        retry_eintr([&] { return write(fd.get(), bytes.data() + done, bytes.size() - done); });
    if (n < 0) return os_error("write", "code bundle memfd");
    done += static_cast<size_t>(n);
  }
  // The snapshot reads a bundle that nobody can change under it.
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    return os_error("seal", "code bundle memfd");
  }
  return fd;
}

}  // namespace

const char* runtime_kind_name(agent::RuntimeKind kind) {
  switch (kind) {
    case agent::PYTHON3:
      return "python3";
    case agent::NATIVE:
      return "native";
    case agent::EXEC:
      return "exec";
    default:
      return "unknown";
  }
}

Result<std::unique_ptr<RuntimeZygote>> RuntimeZygote::start(ZygoteOptions options) {
  const std::string runtime = runtime_kind_name(options.runtime);
  if (runtime == "unknown") return plain_error("start zygote", "unknown runtime");
  UniqueFd agent(open(options.agent_path.c_str(), O_PATH | O_CLOEXEC));
  if (!agent) return os_error("open agent", options.agent_path);

  std::vector<std::string> args{"sprout-agent", "--runtime", runtime, "--control-fd",
                                std::to_string(kAgentControlFd)};
  for (const auto& module : options.pre_imports) {
    args.push_back("--pre-import");
    args.push_back(module);
  }
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::string path_env = "PATH=/usr/local/bin:/usr/bin:/bin", lang_env = "LANG=C.UTF-8";
  std::string log_env =
      getenv("SPROUT_LOG") ? std::string("SPROUT_LOG=") + getenv("SPROUT_LOG") : "SPROUT_LOG=info";
  // Every symbol bound once, in the zygote, at its start: its snapshots and
  // their sandboxes inherit the bound tables instead of each sandbox taking
  // the lazy binder's page faults on its first calls (measured: 24-31 per
  // python3 invocation; docs/benchmarks.md). The snapshot clears the
  // environment before any function code runs, so nothing of this reaches it.
  std::string bind_now_env = "LD_BIND_NOW=1";
  char* envp[] = {path_env.data(), lang_env.data(), log_env.data(), bind_now_env.data(), nullptr};

  const bool root = geteuid() == 0;
  if (root && !options.ids)
    return plain_error("start " + runtime + " zygote", "no host id given for the zygote");
  const uid_t uid = root ? options.ids.uid() : geteuid();
  const gid_t gid = root ? options.ids.gid() : getegid();

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    return os_error("socketpair", "zygote control");
  UniqueFd control(pair[0]), agent_end(pair[1]);
  // The child's report channel (sandbox/child_report.h): a {stage, errno}
  // record if it fails before exec, EOF once exec closed its end.
  int report_pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report_pair) != 0)
    return os_error("socketpair", "zygote exec report");
  UniqueFd report_read(report_pair[0]), report_write(report_pair[1]);

  // The child's whole plan, as plain data, before the clone: the agent
  // gets /dev/null on 0, sproutd's stdout and stderr (where open), its
  // control socket on 3 and nothing else.
  const DescriptorMove moves[] = {
      {.from = STDOUT_FILENO, .to = STDOUT_FILENO, .if_open = true},
      {.from = STDERR_FILENO, .to = STDERR_FILENO, .if_open = true},
      {.from = agent_end.get(), .to = kAgentControlFd},
      {.from = agent.get(), .to = kAgentExecFd, .close_on_exec = true},
  };
  const ExecChildPlan exec_plan{.die_with_parent = true,
                                .descriptor_moves = moves,
                                .descriptor_move_count = std::size(moves),
                                .switch_ids = root,
                                .uid = uid,
                                .gid = gid,
                                .no_new_privs = true,
                                .exec_fd = kAgentExecFd,
                                .path = options.agent_path.c_str(),
                                .argv = argv.data(),
                                .envp = envp,
                                .exec_stage = ChildStage::kExecAgent};

  int pidfd = -1;
  // clone3 as a plain fork with a pidfd; the child only calls
  // async-signal-safe functions before exec (sandbox/exec_child.h).
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  } args_clone{};
  args_clone.flags = CLONE_PIDFD;
  args_clone.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args_clone.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args_clone, sizeof args_clone);
  if (pid < 0) return os_error("clone3", "zygote");
  if (pid == 0) run_exec_child(exec_plan, report_write.get());
  UniqueFd owned_pidfd(pidfd);
  agent_end.reset();
  report_write.reset();

  std::unique_ptr<RuntimeZygote> zygote(
      new RuntimeZygote(std::move(options), uid, static_cast<pid_t>(pid), std::move(owned_pidfd),
                        std::move(control)));
  auto report = read_child_reports(report_read.get());
  if (!report) return std::unexpected(report.error());
  if (report->failed)
    return std::unexpected(describe_child_failure(report->failure, zygote->options_.agent_path));
  if (!report->ready) {
    // EOF without the ready record: the child died before its exec, without
    // a report. Its end (once the kernel has finished it) says how.
    if (!zygote->process_.wait_for_end(zygote->options_.command_timeout_ms))
      zygote->process_.kill();
    return plain_error("start " + runtime + " zygote",
                       "ended before the exec of " + zygote->options_.agent_path +
                           " without a report: " + zygote->process_.end_description());
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(zygote->options_.ready_timeout_ms);
  if (!wait_readable(zygote->control_.get(), zygote->process_.pidfd(), -1, nullptr, deadline)) {
    zygote->process_.kill();
    return plain_error("start " + runtime + " zygote",
                       "not ready: " + zygote->process_.end_description());
  }
  agent::ZygoteReady ready;
  if (auto r = receive_packet(zygote->control_.get(), ready); !r) {
    // A closed channel is the agent dying: describe its end, not "running".
    (void)zygote->process_.wait_for_end(zygote->options_.command_timeout_ms);
    return plain_error("start " + runtime + " zygote",
                       r.error().message() + "; " + zygote->process_.end_description());
  }
  if (!ready.ok()) return plain_error("start " + runtime + " zygote", ready.error());
  zygote->init_duration_us_ = ready.init_duration_us();
  return zygote;
}

RuntimeZygote::~RuntimeZygote() {
  if (control_) {
    agent::ZygoteCommand command;
    command.mutable_shutdown();
    (void)send_packet(control_.get(), command);
    control_.reset();
  }
  process_.stop(1000);
}

Result<std::pair<pid_t, UniqueFd>> RuntimeZygote::spawn_snapshot(const std::string& what,
                                                                  int control_end, int log_end) {
  agent::ZygoteCommand command;
  command.mutable_spawn();
  agent::SnapshotSpawned spawned;
  std::vector<UniqueFd> fds;
  std::lock_guard lock(mutex_);
  if (!process_.alive())
    return plain_error(what, "runtime zygote " + std::string(runtime_kind_name(options_.runtime)) +
                                 (options_.tenant.empty() ? "" : " of tenant " + options_.tenant) +
                                 " died: " + process_.end_description());
  if (auto r = send_packet(control_.get(), command, {control_end, log_end}); !r)
    return std::unexpected(r.error());
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(options_.command_timeout_ms);
  if (!wait_readable(control_.get(), process_.pidfd(), -1, nullptr, deadline)) {
    // A zygote runs only trusted code; one that does not answer is broken.
    process_.kill();
    return plain_error(what, "runtime zygote did not fork a snapshot within " +
                                 std::to_string(options_.command_timeout_ms) +
                                 " ms: " + process_.end_description());
  }
  if (auto r = receive_packet(control_.get(), spawned, &fds); !r) {
    return plain_error(what, "zygote did not answer: " + r.error().message() + "; " +
                                 process_.end_description());
  }
  if (!spawned.ok() || fds.size() != 1)
    return plain_error(what, "zygote could not fork a snapshot: " + spawned.error());
  return std::pair<pid_t, UniqueFd>(spawned.snapshot_pid(), std::move(fds[0]));
}

namespace {

Result<void> write_proc_file(pid_t pid, const char* name, const std::string& text) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return os_error("open", path);
  // A proc id-map file takes its whole text in one write, or nothing.
  const ssize_t written = retry_eintr([&] { return write(fd.get(), text.data(), text.size()); });
  if (written < 0) return os_error("write", path);
  if (written != static_cast<ssize_t>(text.size()))
    return plain_error("write " + path, "short write of " + std::to_string(written) + " bytes");
  return {};
}

// Maps the snapshot's uid/gid 1000 onto its host ids. Written by sproutd:
// the zygote could only map its own uid, which would make every snapshot of
// the tenant one user. setgroups is denied first, so that the snapshot can
// never drop a supplementary group to get past a "deny to group" permission.
Result<void> map_snapshot_ids(pid_t pid, uid_t uid, gid_t gid) {
  const std::string inside = std::to_string(kSnapshotInsideId) + " ";
  if (auto r = write_proc_file(pid, "setgroups", "deny"); !r) return r;
  if (auto r = write_proc_file(pid, "uid_map", inside + std::to_string(uid) + " 1\n"); !r)
    return r;
  return write_proc_file(pid, "gid_map", inside + std::to_string(gid) + " 1\n");
}

}  // namespace

Result<LoadOutcome> RuntimeZygote::load(const FunctionDefinition& definition, CgroupPool* cgroups,
                                        HostIdLease snapshot_ids) {
  const std::string what = "load " + definition.name + "@" + definition.version;
  const bool root = geteuid() == 0;
  if (root && !snapshot_ids) return plain_error(what, "no host id given for the snapshot");
  const uid_t uid = root ? snapshot_ids.uid() : geteuid();
  const gid_t gid = root ? snapshot_ids.gid() : getegid();
  auto bundle = sealed_memfd(definition.bundle);
  if (!bundle) return std::unexpected(bundle.error());
  // The function's read-only host directories, as detached trees made here,
  // in the host's mount namespace: the snapshot cannot see host paths.
  if (auto valid = validate_read_only_mounts(definition.read_only_mounts); !valid)
    return plain_error(what, valid.error().message());
  // A directory that cannot be mounted now (removed, replaced by a link) is
  // left out, loudly: the function still runs, its /mnt/<name> is missing,
  // and its file trigger reports the directory's state. Failing the load
  // would make the function uninvocable over one missing upload directory.
  std::vector<UniqueFd> mount_trees;
  std::vector<std::string> mount_names;
  for (const ReadOnlyMount& mount : definition.read_only_mounts) {
    auto tree = detach_read_only_tree(mount);
    if (!tree) {
      log_line(LogLevel::kWarning, what + ": /mnt/" + mount.name + " left out: " +
                                       tree.error().message());
      continue;
    }
    mount_trees.push_back(std::move(*tree));
    mount_names.push_back(mount.name);
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    return os_error("socketpair", "snapshot control");
  UniqueFd control(pair[0]), snapshot_end(pair[1]);
  int log_pipe[2];
  if (pipe2(log_pipe, O_CLOEXEC) != 0) return os_error("pipe", "init logs");
  UniqueFd log_read(log_pipe[0]), log_write(log_pipe[1]);
  // Never block on the logs: an init that leaves a background process
  // holding the pipe must not hang the load.
  if (fcntl(log_read.get(), F_SETFL, O_NONBLOCK) != 0)
    return os_error("set O_NONBLOCK", "init logs");

  // The function's own cgroup leaf, before its snapshot exists, so that a
  // machine out of cgroups fails the load before anything is forked.
  const CgroupLimits limits = cgroup_limits_of(definition.sandbox);
  CgroupLease own_cgroup;
  if (cgroups) {
    auto acquired = cgroups->acquire(limits);
    if (!acquired) return std::unexpected(acquired.error());
    own_cgroup = std::move(*acquired);
  }

  auto spawned = spawn_snapshot(what, snapshot_end.get(), log_write.get());
  if (!spawned) return std::unexpected(spawned.error());
  snapshot_end.reset();
  log_write.reset();
  const pid_t pid = spawned->first;
  auto snapshot = std::make_unique<FunctionSnapshot>(definition, pid, std::move(spawned->second),
                                                     std::move(control), cgroups,
                                                     std::move(snapshot_ids));
  // Confined before it learns anything of the function: its ids, then its
  // cgroup (the snapshot waits for LoadFunction, sent only after both).
  if (auto r = map_snapshot_ids(pid, uid, gid); !r) return plain_error(what, r.error().message());
  if (own_cgroup) {
    if (auto r = own_cgroup->add_process(pid); !r) return plain_error(what, r.error().message());
  }
  SandboxCgroup* own_leaf = own_cgroup.get();
  snapshot->adopt_own_cgroup(std::move(own_cgroup));

  agent::LoadFunction load;
  load.mutable_function()->set_name(definition.name);
  load.mutable_function()->set_version(definition.version);
  load.mutable_function()->set_memory_limit_mb(
      static_cast<uint32_t>(definition.sandbox.memory_limit_bytes() >> 20));
  load.mutable_function()->set_timeout_ms(definition.timeout_ms);
  load.set_handler(definition.handler);
  load.set_bundle_format(definition.bundle_format);
  load.set_bundle_file_name(definition.bundle_file_name);
  *load.mutable_sandbox() = definition.sandbox;
  load.set_memory_fenced_by_cgroup(cgroups && cgroups->enforces_memory());
  for (const auto& module : definition.pre_imports) load.add_pre_imports(module);
  std::vector<int> load_fds{bundle->get()};
  for (size_t i = 0; i < mount_trees.size(); ++i) {
    load.add_read_only_mount_names(mount_names[i]);
    load_fds.push_back(mount_trees[i].get());
  }
  if (auto r = send_packet(snapshot->control_fd(), load, load_fds); !r)
    return plain_error(what, "send the function to its snapshot: " + r.error().message());
  // Ours go now: the snapshot holds the only descriptors of the trees, and
  // a tree it never attaches disappears with them.
  mount_trees.clear();

  LoadOutcome outcome;
  LogTail logs(definition.max_log_bytes);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(definition.init_timeout_ms);
  // An init that dies or fails after touching more memory than its limit
  // allows is reported as such, not as a crash.
  auto over_memory_limit = [&] { return own_leaf && own_leaf->read_usage().oom_kills > 0; };
  auto out_of_memory = [&] {
    outcome.init.set_ok(false);
    outcome.init.set_error_type("Runtime.OutOfMemory");
    outcome.init.set_error_message(
        "init exceeded the memory limit of " +
        std::to_string(definition.sandbox.memory_limit_bytes() >> 20) + " MiB");
  };
  // The snapshot ends its logs, then reports its init result.
  if (!wait_readable(snapshot->control_fd(), snapshot->pidfd(), log_read.get(), &logs, deadline)) {
    bool timed_out = snapshot->alive();
    snapshot->kill();
    drain(log_read.get(), &logs);
    outcome.init.set_ok(false);
    if (!timed_out && over_memory_limit()) {
      out_of_memory();
    } else {
      outcome.init.set_error_type(timed_out ? "Runtime.InitTimeout" : "Runtime.InitCrashed");
      outcome.init.set_error_message(
          timed_out
              ? "init did not finish within " + std::to_string(definition.init_timeout_ms) + " ms"
              : "function snapshot " + snapshot->end_description() + " during init");
    }
    outcome.init_logs = logs.text();
    return outcome;
  }
  if (auto r = receive_packet(snapshot->control_fd(), outcome.init); !r) {
    outcome.init.set_ok(false);
    outcome.init.set_error_type("Runtime.InitCrashed");
    outcome.init.set_error_message("function snapshot " + snapshot->end_description() +
                                   " during init");
  }
  if (!outcome.init.ok() && over_memory_limit()) out_of_memory();
  drain(log_read.get(), &logs);
  outcome.init_logs = logs.text();
  if (outcome.init.ok()) outcome.snapshot = std::move(snapshot);
  return outcome;
}

}  // namespace sprout
