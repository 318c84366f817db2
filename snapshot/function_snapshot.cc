#include "snapshot/function_snapshot.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>

#include "base/clock.h"
#include "agent/sandbox_entry.h"
#include "protocol/message_channel.h"
#include "sandbox/spec_defaults.h"
#include "snapshot/sandbox_reaper.h"

namespace sprout {
namespace {

bool process_alive(int pidfd) {
  pollfd exited{pidfd, POLLIN, 0};
  return poll(&exited, 1, 0) == 0;
}

// Waits until the snapshot's answer is readable, or its end, or the deadline.
bool wait_for_answer(int control_fd, int pidfd, uint32_t deadline_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd fds[2] = {{control_fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
    int ready = poll(fds, 2, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0 && (fds[0].revents & POLLIN);
  }
}

uint64_t elapsed_us(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

// A random RFC 4122 version 4 id, as Lambda's aws_request_id.
std::string new_request_id() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  uint64_t high = generator(), low = generator();
  high = (high & 0xffffffffffff0fffull) | 0x4000ull;
  low = (low & 0x3fffffffffffffffull) | 0x8000000000000000ull;
  char text[40];
  snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(high >> 32),
           static_cast<unsigned>((high >> 16) & 0xffff), static_cast<unsigned>(high & 0xffff),
           static_cast<unsigned>(low >> 48),
           static_cast<unsigned long long>(low & 0xffffffffffffull));
  return text;
}

}  // namespace

FunctionSnapshot::FunctionSnapshot(FunctionDefinition definition, pid_t pid, UniqueFd pidfd,
                                   UniqueFd control, CgroupPool* cgroups, HostIdLease ids)
    : ids_(std::move(ids)),
      definition_(std::move(definition)),
      process_(pid, std::move(pidfd)),
      control_(std::move(control)),
      cgroups_(cgroups) {
  identity_.set_name(definition_.name);
  identity_.set_version(definition_.version);
  identity_.set_memory_limit_mb(
      static_cast<uint32_t>(definition_.sandbox.memory_limit_bytes() >> 20));
  identity_.set_timeout_ms(definition_.timeout_ms);
  // Defaults applied: a zero pids or cpu field would leave the leaf without
  // that limit.
  limits_ = cgroup_limits_of(definition_.sandbox);
}

FunctionSnapshot::~FunctionSnapshot() {
  {
    std::lock_guard lock(idle_mutex_);
    idle_.clear();  // each Sandbox kills and reaps itself
  }
  if (control_) {
    agent::SnapshotCommand command;
    command.mutable_shutdown();
    (void)send_packet(control_.get(), command);
    control_.reset();
  }
  process_.stop(1000);
}

// The snapshot runs the function's own code (its init), so what it answers
// is checked before sproutd acts on it: the pidfd must name a live child of
// the snapshot whose user namespace was created inside the snapshot's own.
// Anything else (a pidfd_open of some other process) is refused, so a
// hijacked snapshot cannot make sproutd move, kill or wait for processes
// that are not its sandboxes. Returns the sandbox's pid. The pidfd pins the
// process: it is checked alive after the reads, so the pid read through
// /proc cannot have been reused by another process meanwhile.
Result<pid_t> verify_forked_sandbox(int pidfd, pid_t snapshot_pid) {
  std::ifstream fdinfo("/proc/self/fdinfo/" + std::to_string(pidfd));
  std::string key;
  pid_t pid = -1;
  while (fdinfo >> key) {
    if (key == "Pid:") {
      fdinfo >> pid;
      break;
    }
  }
  if (pid <= 0)
    return plain_error("verify sandbox", "the descriptor is not a pidfd of a live process");
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  pid_t parent = -1;
  while (status >> key) {
    if (key == "PPid:") {
      status >> parent;
      break;
    }
  }
  if (parent != snapshot_pid)
    return plain_error("verify sandbox",
                       "process " + std::to_string(pid) + " is not a child of its snapshot");
  UniqueFd sandbox_ns(
      ::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  if (!sandbox_ns) return os_error("open user namespace of", std::to_string(pid));
  UniqueFd parent_ns(ioctl(sandbox_ns.get(), NS_GET_PARENT));
  struct stat expected, actual;
  if (!parent_ns || fstat(parent_ns.get(), &actual) != 0 ||
      stat(("/proc/" + std::to_string(snapshot_pid) + "/ns/user").c_str(), &expected) != 0 ||
      expected.st_ino != actual.st_ino || expected.st_dev != actual.st_dev) {
    return plain_error("verify sandbox",
                       "process " + std::to_string(pid) + " was not created by its snapshot");
  }
  if (!process_alive(pidfd))
    return plain_error("verify sandbox", "process " + std::to_string(pid) + " ended");
  return pid;
}

Result<ReadySandbox> FunctionSnapshot::fork_sandbox(uint32_t deadline_ms, bool prefork) {
  const auto begin = std::chrono::steady_clock::now();
  CgroupLease lease;
  if (cgroups_) {
    auto acquired = cgroups_->acquire(limits_);
    if (!acquired) return std::unexpected(acquired.error());
    lease = std::move(*acquired);
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return os_error("socketpair", "invocation channel");
  UniqueFd channel(pair[0]), sandbox_end(pair[1]);
  int log_pipe[2];
  if (pipe2(log_pipe, O_CLOEXEC) != 0) return os_error("pipe", "invocation logs");
  UniqueFd logs(log_pipe[0]), log_write(log_pipe[1]);

  agent::SnapshotCommand command;
  command.mutable_fork();
  agent::ForkResult forked;
  std::vector<UniqueFd> fds;
  const std::string snapshot_name = "function snapshot " + definition_.name + "@" +
                                    definition_.version;
  {
    std::lock_guard lock(control_mutex_);
    if (!process_.alive())
      return plain_error("fork sandbox", snapshot_name + " " + process_.end_description());
    if (auto r = send_packet(control_.get(), command, {sandbox_end.get(), log_write.get()}); !r) {
      // A closed channel: the snapshot is ending; say how, once it has.
      if (process_.wait_for_end(1000))
        return plain_error("fork sandbox", snapshot_name + " " + process_.end_description());
      return std::unexpected(r.error());
    }
    if (!wait_for_answer(control_.get(), process_.pidfd(), deadline_ms)) {
      if (process_.alive()) {
        // Its before-fork hooks (function code) hold it: it is not used
        // again. Waited for, so that the next caller sees it dead and
        // rebuilds it rather than writing to a closing channel.
        process_.kill();
        process_.wait_for_end(1000);
        Error late{"fork sandbox", snapshot_name, ETIMEDOUT,
                   "did not fork within " + std::to_string(deadline_ms) +
                       " ms (a blocking before-fork hook?); it was killed and is rebuilt on the "
                       "next call",
                   ErrorCode::kTimeout};
        return std::unexpected(std::move(late));
      }
      return plain_error("fork sandbox", snapshot_name + " " + process_.end_description());
    }
    if (auto r = receive_packet(control_.get(), forked, &fds); !r) {
      process_.wait_for_end(1000);
      return plain_error("fork sandbox", snapshot_name + " did not answer (" +
                                             r.error().message() +
                                             "): " + process_.end_description());
    }
  }
  if (!forked.ok()) return plain_error("fork sandbox", forked.error());
  if (fds.size() != 1)
    return plain_error("fork sandbox", "malformed answer from the function snapshot");
  auto pid = verify_forked_sandbox(fds[0].get(), process_.pid());
  if (!pid) {
    process_.kill();  // a snapshot that lies is not used again
    return std::unexpected(pid.error());
  }
  // Its seccomp listener comes later, from the sandbox itself, on the
  // invocation channel (see run_invocation).
  Sandbox sandbox(*pid, std::move(fds[0]), UniqueFd(), CgroupLease{},
                  std::chrono::steady_clock::now(), 0);
  // Into its cgroup before any function code: the sandbox waits for our
  // go, sent below, before it runs the runtime's after-fork hooks. The pid
  // is still the sandbox's afterwards (checked alive: not yet reaped, so
  // not reused), hence the process placed was the sandbox.
  if (lease) {
    auto placed = lease->add_process(*pid);
    if (!process_alive(sandbox.pidfd())) {
      // It ended in its own setup (sethostname refused, say), before any
      // function code, and perhaps before its placement (ESRCH then): no
      // go is due, and its setup record, which the invocation reads from
      // the channel, says why it ended.
      return ReadySandbox{std::move(sandbox), std::move(channel), std::move(logs),
                          elapsed_us(begin)};
    }
    if (!placed) return std::unexpected(placed.error());
    sandbox.adopt_cgroup(std::move(lease));
  }
  const char go = prefork ? agent::kPlacedPreforkByteValue : agent::kPlacedByteValue;
  if (send(channel.get(), &go, 1, MSG_NOSIGNAL) != 1)
    return os_error("fork sandbox", "send the go to the sandbox");
  ReadySandbox ready{std::move(sandbox), std::move(channel), std::move(logs), elapsed_us(begin)};
  return ready;
}

Result<std::chrono::microseconds> FunctionSnapshot::prefork(size_t count) {
  std::chrono::microseconds took{0};
  for (size_t i = 0; i < count; ++i) {
    {
      std::lock_guard lock(idle_mutex_);
      ++preforks_in_flight_;
    }
    // However it ends, the in-flight count drops and waiters look again.
    struct Landed {
      FunctionSnapshot& snapshot;
      std::optional<ReadySandbox> ready;
      ~Landed() {
        {
          std::lock_guard lock(snapshot.idle_mutex_);
          --snapshot.preforks_in_flight_;
          if (ready) snapshot.idle_.push_back(std::move(*ready));
        }
        snapshot.idle_changed_.notify_all();
      }
    } landed{*this, std::nullopt};
    const auto begin = std::chrono::steady_clock::now();
    auto forked = fork_sandbox(definition_.fork_timeout_ms, /*prefork=*/true);
    if (!forked) return std::unexpected(forked.error());
    // The warm-up shares the fork's deadline: both are the function's own
    // code (fork and at-fork hooks) holding a pre-fork up.
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - begin);
    const uint32_t left = static_cast<uint32_t>(
        std::max<int64_t>(1, int64_t{definition_.fork_timeout_ms} - spent.count()));
    if (auto warm = await_warm(*forked, left); !warm) return std::unexpected(warm.error());
    took = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - begin);
    landed.ready.emplace(std::move(*forked));
  }
  return took;
}

void FunctionSnapshot::set_demand_hook(std::function<void()> hook) {
  std::lock_guard lock(idle_mutex_);
  demand_hook_ = std::make_shared<const std::function<void()>>(std::move(hook));
}

bool FunctionSnapshot::has_demand_hook() {
  std::lock_guard lock(idle_mutex_);
  return demand_hook_ != nullptr;
}

size_t FunctionSnapshot::release_idle(size_t keep) {
  std::deque<ReadySandbox> released;
  {
    std::lock_guard lock(idle_mutex_);
    while (idle_.size() > keep) {
      released.push_back(std::move(idle_.front()));
      idle_.pop_front();
    }
  }
  // Killed and reaped in the background: this runs on an invocation's
  // thread too (the demand hook), which must not wait for a sandbox's end.
  for (auto& ready : released) SandboxReaper::instance().adopt(std::move(ready.sandbox));
  return released.size();
}

std::optional<ReadySandbox> FunctionSnapshot::take_idle(
    std::shared_ptr<const std::function<void()>>* hook, bool* waited) {
  std::unique_lock lock(idle_mutex_);
  *hook = demand_hook_;
  const auto give_up_at =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(definition_.fork_timeout_ms);
  bool waiting = false;
  std::optional<ReadySandbox> taken;
  for (;;) {
    // A pre-forked sandbox that died while idle (killed from outside) is
    // dropped, not handed a request.
    while (!idle_.empty() && !taken) {
      pollfd exited{idle_.front().sandbox.pidfd(), POLLIN, 0};
      if (poll(&exited, 1, 0) == 0) taken.emplace(std::move(idle_.front()));
      idle_.pop_front();
    }
    if (taken) break;
    // One waiter per pre-fork in flight: the others fork their own.
    const size_t other_waiters = waiting_for_preforks_ - (waiting ? 1 : 0);
    if (preforks_in_flight_ <= other_waiters) break;
    if (!waiting) {
      waiting = true;
      ++waiting_for_preforks_;
    }
    if (idle_changed_.wait_until(lock, give_up_at) == std::cv_status::timeout) break;
  }
  if (waiting) --waiting_for_preforks_;
  *waited = waiting;
  return taken;
}

size_t FunctionSnapshot::preforks_in_flight() {
  std::lock_guard lock(idle_mutex_);
  return preforks_in_flight_;
}

size_t FunctionSnapshot::idle_count() {
  std::lock_guard lock(idle_mutex_);
  return idle_.size();
}

Result<InvocationResult> FunctionSnapshot::invoke(const InvocationRequest& request) {
  const auto begin = std::chrono::steady_clock::now();
  std::shared_ptr<const std::function<void()>> demand_hook;
  bool waited = false;
  std::optional<ReadySandbox> ready = take_idle(&demand_hook, &waited);
  const bool preforked = ready.has_value();
  // Time spent waiting for an in-flight pre-fork to get ready (0: one was).
  const uint64_t waited_us = waited ? elapsed_us(begin) : 0;
  if (demand_hook) (*demand_hook)();
  const uint32_t timeout_ms = request.timeout_ms ? request.timeout_ms : definition_.timeout_ms;
  if (!ready) {
    // The fork's own deadline, not the function's timeout (which starts
    // when the request is delivered): a fork slowed by a loaded host must
    // not cost the snapshot, which a missed deadline kills, and with it
    // every call in flight. Only a fork held past fork_timeout_ms (a
    // function's blocking before-fork hook) ends it.
    auto forked = fork_sandbox(definition_.fork_timeout_ms, /*prefork=*/false);
    if (!forked && forked.error().code == ErrorCode::kTimeout) {
      // The function's own code (a before-fork hook) held the fork past the
      // deadline: the invocation timed out, the snapshot is gone.
      InvocationResult late;
      late.status = InvocationStatus::kTimeout;
      late.detail = forked.error().object + " " + forked.error().detail;
      late.metrics.total_us = elapsed_us(begin);
      return late;
    }
    if (!forked) return std::unexpected(forked.error());
    ready.emplace(std::move(*forked));
  }
  // CPU the sandbox spent before its request (after-fork hooks, warm-up),
  // from its own cgroup, whose counters started at zero when it was placed.
  uint64_t prerequest_cpu_us = 0;
  if (SandboxCgroup* cgroup = ready->sandbox.cgroup()) {
    prerequest_cpu_us = cgroup->read_usage().cpu_time_us;
  }
  agent::InvokeRequest wire;
  wire.set_request_id(request.request_id.empty() ? new_request_id() : request.request_id);
  wire.set_payload(request.payload);
  wire.set_deadline_monotonic_ns(monotonic_ns() + uint64_t{timeout_ms} * 1000000);
  *wire.mutable_function() = identity_;
  InvocationResult result =
      run_invocation(*ready, wire, timeout_ms, definition_, request.cancel_fd);
  result.request_id = wire.request_id();
  result.metrics.preforked = preforked;
  result.metrics.prerequest_cpu_us = prerequest_cpu_us;
  result.metrics.fork_us = preforked ? waited_us : ready->fork_us;
  result.metrics.total_us = elapsed_us(begin);
  return result;
}

}  // namespace sprout
