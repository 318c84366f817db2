// The supervisor's handle on one runtime zygote (an exec'd sprout-agent) and
// the function snapshots forked from it. Free of Asio: every call blocks the
// calling thread only, and the objects are thread-safe, so sproutd can call
// them from its worker threads.
//
//   auto zygote = RuntimeZygote::start({.runtime = agent::PYTHON3, .agent_path = ...});
//   auto loaded = (*zygote)->load(definition, cgroups);   // the function's init
//   auto result = loaded->snapshot->invoke({.payload = "{}"});
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/proto/agent_protocol.pb.h"
#include "sandbox/cgroup_pool.h"
#include "sandbox/errors.h"
#include "snapshot/child_process.h"
#include "snapshot/function_snapshot.h"

namespace sprout {

struct ZygoteOptions {
  agent::RuntimeKind runtime = agent::PYTHON3;
  std::string agent_path;                // the sprout-agent binary
  std::vector<std::string> pre_imports;  // python3: modules imported once, in the zygote
  // Host ids the zygote (and its snapshots) run as. 0: 65534 when the
  // supervisor is root, the supervisor's own ids otherwise.
  uid_t uid = 0;
  gid_t gid = 0;
  int ready_timeout_ms = 30000;
};

// What load() came to. `snapshot` is null when the init failed; `init` then
// says why, as Lambda would (errorType, errorMessage, stackTrace).
struct LoadOutcome {
  std::unique_ptr<FunctionSnapshot> snapshot;
  agent::InitResult init;
  std::string init_logs;  // what the init printed (bounded tail)
};

class RuntimeZygote {
 public:
  static Result<std::unique_ptr<RuntimeZygote>> start(const ZygoteOptions& options);
  ~RuntimeZygote();

  // Forks a function snapshot, lays out its code and runs its init.
  // Errors are sprout's (zygote dead, bad bundle descriptor); init failures
  // of the function come back inside LoadOutcome.
  Result<LoadOutcome> load(const FunctionDefinition& definition, CgroupPool* cgroups);

  bool alive() { return process_.alive(); }
  std::string end_description() { return process_.end_description(); }
  pid_t pid() const { return process_.pid(); }
  agent::RuntimeKind runtime() const { return options_.runtime; }
  uint64_t init_duration_us() const { return init_duration_us_; }

 private:
  RuntimeZygote(ZygoteOptions options, pid_t pid, UniqueFd pidfd, UniqueFd control)
      : options_(std::move(options)),
        process_(pid, std::move(pidfd)),
        control_(std::move(control)) {}

  ZygoteOptions options_;
  ChildProcess process_;
  UniqueFd control_;
  std::mutex mutex_;  // one load at a time on the control channel
  uint64_t init_duration_us_ = 0;
};

const char* runtime_kind_name(agent::RuntimeKind kind);

}  // namespace sprout
