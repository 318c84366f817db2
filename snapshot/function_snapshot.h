// The supervisor's handle on one function snapshot: forks sandboxes from it,
// cold (fork on the critical path) or from a pool of pre-forked, never-used
// sandboxes, and runs invocations on them. Thread-safe: the control channel
// is held only for the fork itself; invocations run in parallel.
//
// Sandboxes are cloned with CLONE_PARENT, so they are children of the
// supervisor, which waits on them through their pidfds. A running invocation
// does not depend on its snapshot: if the snapshot dies, invocations in
// flight finish, pre-forked sandboxes are discarded, and the next invoke()
// fails with an error that says how the snapshot ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/proto/agent_protocol.pb.h"
#include "sandbox/cgroup_pool.h"
#include "sandbox/errors.h"
#include "sandbox/proto/sandbox_spec.pb.h"
#include "sandbox/sandbox_process.h"
#include "snapshot/child_process.h"
#include "snapshot/invocation_result.h"

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
  uint32_t timeout_ms = 3000;
  int init_timeout_ms = 10000;  // Lambda's init limit
  size_t max_log_bytes = 64 * 1024;
  size_t max_result_bytes = 6 * 1024 * 1024;
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
};

class FunctionSnapshot {
 public:
  FunctionSnapshot(FunctionDefinition definition, pid_t pid, UniqueFd pidfd, UniqueFd control,
                   CgroupPool* cgroups);
  ~FunctionSnapshot();

  // Runs one invocation in a never-used sandbox: a pre-forked one when the
  // pool has one, else one forked now. Errors are sprout's own (snapshot
  // dead, fork refused); everything the function did is in the result.
  Result<InvocationResult> invoke(const InvocationRequest& request);
  // Forks `count` sandboxes ahead of demand.
  Result<void> prefork(size_t count);
  size_t idle_count();

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
  Result<ReadySandbox> fork_sandbox();

  FunctionDefinition definition_;
  agent::FunctionIdentity identity_;
  ChildProcess process_;
  UniqueFd control_;
  CgroupPool* cgroups_;
  CgroupLimits limits_;
  std::mutex control_mutex_;
  std::mutex idle_mutex_;
  std::deque<ReadySandbox> idle_;
};

// Runs one invocation on a ready sandbox and classifies how it ended.
InvocationResult run_invocation(ReadySandbox& ready, const agent::InvokeRequest& request,
                                uint32_t timeout_ms, const FunctionDefinition& definition,
                                int cancel_fd = -1);

}  // namespace sprout
