// The supervisor's handle on one runtime zygote (an exec'd sprout-agent of
// one tenant) and the function snapshots forked from it. Free of Asio: every
// call blocks the calling thread only, always with a deadline, and the
// objects are thread-safe, so sproutd can call them from its worker threads.
//
//   auto zygote = RuntimeZygote::start({.runtime = agent::PYTHON3, .agent_path = ...,
//                                       .ids = *ids.acquire()});
//   auto loaded = (*zygote)->load(definition, cgroups, *ids.acquire());  // init
//   auto result = loaded->snapshot->invoke({.payload = "{}"});
//
// Loading a function: the zygote forks a bare snapshot into fresh namespaces
// (it never sees the function); sproutd maps the snapshot's user namespace
// onto the function's own host id, places it in a cgroup leaf with the
// function's limits, and only then sends it the code and environment on the
// snapshot's own channel.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/proto/agent_protocol.pb.h"
#include "host/cgroup_pool.h"
#include "base/errors.h"
#include "snapshot/child_process.h"
#include "snapshot/function_snapshot.h"
#include "snapshot/host_ids.h"

namespace sprout {

struct ZygoteOptions {
  agent::RuntimeKind runtime = agent::PYTHON3;
  std::string agent_path;                // the sprout-agent binary
  std::vector<std::string> pre_imports;  // python3: modules imported once, in the zygote
  std::string tenant;                    // whose zygote this is (logs, errors)
  // The zygote's own host uid/gid, used by nothing else. Required when the
  // supervisor is root; an empty lease means the supervisor's own ids.
  HostIdLease ids;
  int ready_timeout_ms = 30000;
  int command_timeout_ms = 5000;  // every later exchange with the zygote
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
  static Result<std::unique_ptr<RuntimeZygote>> start(ZygoteOptions options);
  ~RuntimeZygote();

  // Forks a function snapshot, confines it (id maps onto `snapshot_ids`,
  // a cgroup leaf from `cgroups` with the function's limits), sends it the
  // code and environment, and waits for its init. The snapshot keeps the
  // lease until every process of it has ended. Errors are sprout's (zygote
  // dead or not answering in time); init failures of the function, an init
  // over the memory limit included, come back inside LoadOutcome.
  Result<LoadOutcome> load(const FunctionDefinition& definition, CgroupPool* cgroups,
                           HostIdLease snapshot_ids);

  bool alive() { return process_.alive(); }
  std::string end_description() { return process_.end_description(); }
  pid_t pid() const { return process_.pid(); }
  agent::RuntimeKind runtime() const { return options_.runtime; }
  const std::string& tenant() const { return options_.tenant; }
  uid_t uid() const { return uid_; }
  uint64_t init_duration_us() const { return init_duration_us_; }

 private:
  RuntimeZygote(ZygoteOptions options, uid_t uid, pid_t pid, UniqueFd pidfd, UniqueFd control)
      : options_(std::move(options)),
        uid_(uid),
        process_(pid, std::move(pidfd)),
        control_(std::move(control)) {}
  // Asks the zygote for a bare snapshot; returns its pid and pidfd.
  Result<std::pair<pid_t, UniqueFd>> spawn_snapshot(const std::string& what, int control_end,
                                                    int log_end);

  ZygoteOptions options_;  // holds the zygote's id lease: destroyed after the process
  uid_t uid_;
  ChildProcess process_;
  UniqueFd control_;
  std::mutex mutex_;  // one load at a time on the control channel
  uint64_t init_duration_us_ = 0;
};

const char* runtime_kind_name(agent::RuntimeKind kind);

}  // namespace sprout
