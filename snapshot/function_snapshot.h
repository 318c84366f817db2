// The supervisor's handle on one function snapshot: forks sandboxes from it,
// cold (fork on the critical path) or from a pool of pre-forked, never-used
// sandboxes, and runs invocations on them. Thread-safe: the control channel
// is held only for the fork itself; invocations run in parallel.
//
// The snapshot is pid 1 of its own pid namespace, so its sandboxes are its
// children (nested pid namespaces); the supervisor watches them through
// their pidfds and learns their exit status from the kernel (PIDFD_GET_INFO)
// once the snapshot has reaped them. Everything of the function lives in the
// snapshot's pid namespace: when the snapshot ends, so do its sandboxes,
// in-flight invocations included, and whatever its init left running.
// Every exchange with the snapshot has a deadline; a snapshot that misses one
// is killed (the next invocation rebuilds it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/proto/agent_protocol.pb.h"
#include "host/cgroup_pool.h"
#include "base/errors.h"
#include "sandbox/proto/sandbox_spec.pb.h"
#include "host/sandbox_process.h"
#include "protocol/limits.h"
#include "snapshot/child_process.h"
#include "snapshot/host_ids.h"
#include "snapshot/invocation_result.h"
#include "snapshot/read_only_mount.h"

namespace sprout {

struct FunctionDefinition {
  std::string name;
  std::string version = "1";
  std::string handler;  // "module.fn" / "lib.so" / "run.sh"
  agent::BundleFormat bundle_format = agent::SINGLE_FILE;
  std::string bundle_file_name;  // SINGLE_FILE: its name under /var/task
  std::string bundle;            // the bytes: one file, or a tar stream
  // Limits and environment of every sandbox: memory_limit_bytes, pids_limit,
  // cpu_millicores, tmp_size_bytes, env, ... (argv, fds, code_dir are set by
  // sprout).
  sandbox::SandboxSpec sandbox;
  std::vector<std::string> pre_imports;  // python3: imported before the handler's module
  // Host directories at /mnt/<name>, read-only, in the snapshot and its
  // sandboxes (snapshot/read_only_mount.h); fixed for the snapshot's life.
  std::vector<ReadOnlyMount> read_only_mounts;
  std::string tenant;                    // whose zygote the snapshot comes from
  uint32_t timeout_ms = 3000;
  // Longest wait for the snapshot to answer a fork (its before-fork hooks
  // run meanwhile); an invocation waits at most its own timeout.
  uint32_t fork_timeout_ms = 10000;
  int init_timeout_ms = 10000;  // Lambda's init limit
  size_t max_log_bytes = 64 * 1024;
  size_t max_result_bytes = limits::kMaxResultBytes;
};

struct InvocationRequest {
  std::string request_id;  // generated when empty
  std::string payload;
  uint32_t timeout_ms = 0;  // 0: the function's timeout
  // Readable (an eventfd written by the caller) when the caller gave up, e.g.
  // its client disconnected: the sandbox is killed at once. -1: never.
  int cancel_fd = -1;
};

// A sandbox forked and waiting for its one invocation.
struct ReadySandbox {
  Sandbox sandbox;
  UniqueFd channel;  // stream socket to the sandbox's fd 3
  UniqueFd logs;     // read end of its stdout+stderr pipe
  uint64_t fork_us = 0;
  // Pre-forked and warmed up: its setup record and 'W' were read (its
  // seccomp listener is in `sandbox`); only the reply is still to come.
  bool warm = false;
};

class FunctionSnapshot {
 public:
  // `ids`: the host uid/gid the snapshot's user namespace maps to, kept
  // until every process of the function has ended.
  FunctionSnapshot(FunctionDefinition definition, pid_t pid, UniqueFd pidfd, UniqueFd control,
                   CgroupPool* cgroups, HostIdLease ids);
  ~FunctionSnapshot();

  // Runs one invocation in a never-used sandbox: a pre-forked one when the
  // pool has one, else one forked now. Errors are sprout's own (snapshot
  // dead, fork refused); everything the function did is in the result.
  Result<InvocationResult> invoke(const InvocationRequest& request);
  // Forks `count` sandboxes ahead of demand, one after the other, each
  // handed out only once it has warmed up. Returns the time the last one
  // took from the fork command to warm (the pool's refill time).
  Result<std::chrono::microseconds> prefork(size_t count);
  // Called (outside every lock) whenever an invocation took an idle
  // sandbox or had to fork one: the pool keeper's cue to refill at once,
  // not on its next pass. Set by the keeper on its first pass.
  void set_demand_hook(std::function<void()> hook);
  bool has_demand_hook();
  // Ends idle sandboxes beyond `keep` (the oldest first); returns how many.
  size_t release_idle(size_t keep);
  // The cgroup leaf the snapshot itself runs in (the function's limits).
  void adopt_own_cgroup(CgroupLease cgroup) { own_cgroup_ = std::move(cgroup); }
  uid_t host_uid() const { return ids_.uid(); }
  size_t idle_count();
  size_t preforks_in_flight();

  bool alive() { return process_.alive(); }
  std::string end_description() { return process_.end_description(); }
  // Kills the snapshot process itself (tests, fault injection).
  void kill() { process_.kill(); }
  pid_t pid() const { return process_.pid(); }
  const FunctionDefinition& definition() const { return definition_; }

 private:
  friend class RuntimeZygote;  // waits for the init result on our channel
  int control_fd() const { return control_.get(); }
  int pidfd() const { return process_.pidfd(); }
  // Forks a sandbox, waiting for the snapshot at most `deadline_ms`; a miss
  // kills the snapshot and is an error with err == ETIMEDOUT. `prefork`:
  // the sandbox is told to warm up and say so before its request.
  Result<ReadySandbox> fork_sandbox(uint32_t deadline_ms, bool prefork);
  // An idle sandbox: one that is ready, or, when none is and pre-forks are
  // in flight that no other invocation waits for, the first to get ready
  // (never slower than a cold fork started now, which would queue behind
  // them for the same CPUs). Empty: fork one.
  // Sets *waited when it waited for an in-flight pre-fork.
  std::optional<ReadySandbox> take_idle(std::shared_ptr<const std::function<void()>>* hook,
                                        bool* waited);

  // Declared first, destroyed last: the id and the leaf are given back only
  // after the snapshot's process (and with it its pid namespace) has ended.
  HostIdLease ids_;
  CgroupLease own_cgroup_;
  FunctionDefinition definition_;
  agent::FunctionIdentity identity_;
  ChildProcess process_;
  UniqueFd control_;
  CgroupPool* cgroups_;
  CgroupLimits limits_;
  std::mutex control_mutex_;
  std::mutex idle_mutex_;  // guards the fields below
  std::shared_ptr<const std::function<void()>> demand_hook_;
  std::condition_variable idle_changed_;
  std::deque<ReadySandbox> idle_;
  size_t preforks_in_flight_ = 0;
  size_t waiting_for_preforks_ = 0;  // invocations waiting for one of them
};

// A pre-forked sandbox: waits until it has set itself up and warmed up
// (setup record, then 'W'), watching its seccomp listener meanwhile. A
// sandbox that fails, ends or misses `deadline_ms` is killed and reaped in
// the background, and the error says why.
Result<void> await_warm(ReadySandbox& ready, uint32_t deadline_ms);

// Runs one invocation on a ready sandbox and classifies how it ended.
InvocationResult run_invocation(ReadySandbox& ready, const agent::InvokeRequest& request,
                                uint32_t timeout_ms, const FunctionDefinition& definition,
                                int cancel_fd = -1);

}  // namespace sprout
