// The heart of sproutd: deployed functions, their snapshots, admission and
// metering. Every method is thread-safe and may block (it runs on worker
// threads, never on Asio's).
//
// Versions: a deploy creates version N+1 and swaps it in atomically; an
// invocation holds its version (and that version's snapshot) until it ends,
// so invocations already running on the old version finish on it, and the
// old snapshot ends as soon as the last of them does.
//
// Each version's snapshot lives in its FunctionVersion, loaded from its
// tenant's zygote (ZygoteTable). A maintenance thread drops snapshots that
// ended or that nobody invoked for the idle TTL, stops zygotes that no
// snapshot needs any more, and has the PreforkKeeper top up the pools of
// pre-forked sandboxes. Asynchronous invocations are not kept here: the
// event service (supervisor/event_service.h) persists them and runs each
// attempt through invoke(), with the origin that the history records.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "api/proto/sprout_api.pb.h"
#include "host/cgroup_pool.h"
#include "protocol/limits.h"
#include "snapshot/host_ids.h"
#include "snapshot/runtime_zygote.h"
#include "supervisor/call_cancellation.h"
#include "supervisor/function_stats.h"
#include "supervisor/function_version.h"
#include "supervisor/node_metrics.h"
#include "supervisor/prefork_keeper.h"
#include "supervisor/proto/daemon_config.pb.h"
#include "supervisor/registry.h"
#include "supervisor/scheduler.h"
#include "supervisor/thread_pool.h"
#include "supervisor/zygote_table.h"

namespace sprout::supervisor {

inline constexpr size_t kMaxPayloadBytes = limits::kMaxPayloadBytes;

// Who started an invocation, for the history (api::HistoryEntry) and for
// the aws_request_id the handler sees.
struct InvocationOrigin {
  api::InvocationSource source = api::API;
  std::string source_id;   // the schedule's or trigger's id
  std::string request_id;  // empty: a new one; an async event keeps its own
  uint32_t attempt = 1;
};

class FunctionManager {
 public:
  // `host_ids`: the range zygotes and snapshots take their host ids from;
  // empty when sproutd is not root (everything then runs as sproutd).
  FunctionManager(const DaemonConfig& config, Registry& registry, CgroupPool* cgroups,
                  std::string agent_path, std::optional<HostIdRange> host_ids);
  ~FunctionManager();

  // Takes in every function the registry holds (after a restart). Their
  // snapshots are loaded by their first invocations.
  void restore();

  // Answers a call: exactly once, from any thread.
  using Reply = std::function<void(api::Response)>;

  api::Response deploy(api::DeployRequest request);
  // Admits and runs an invocation. A refusal is answered at once; a queued
  // invocation waits without holding a thread, and runs on the invocation
  // threads once admitted. `cancellation` (may be null) takes it out of the
  // queue, or kills its sandbox, when the client goes away.
  void invoke(const api::InvokeRequest& request,
              const std::shared_ptr<CallCancellation>& cancellation,
              std::chrono::steady_clock::time_point received, const Reply& answer,
              const InvocationOrigin& origin = {});
  api::Response list();
  api::Response get(const std::string& name);
  // The current version's description and code bundle, for a redeploy that
  // changes only the configuration (Lambda's UpdateFunctionConfiguration)
  // and for CodeSha256. Survives restarts (versions are restored with their
  // code). std::nullopt: no such function.
  struct CurrentFunction {
    api::FunctionInfo info;
    std::string code;
  };
  std::optional<CurrentFunction> current_function(const std::string& name);
  api::Response remove(const std::string& name);
  api::Response stats(const std::string& name);
  api::Response health();

  // The current version's AsyncConfig; std::nullopt: no such function.
  std::optional<api::AsyncConfig> async_config(const std::string& name);

  // The host directories that `name`'s sandboxes see read-only at
  // /mnt/<name> (its file triggers' watched directories), for its current
  // version and every later deploy; may be set before the function exists
  // or after it is deleted. A change rebuilds the function's snapshot on
  // its next invocation. Logged, not answered, when the set is refused.
  void set_read_only_mounts(const std::string& name, std::vector<ReadOnlyMount> mounts);

  // What the event service learns from the manager. Set once, before
  // anything is served; called from invocation and control threads, with
  // none of the manager's locks held.
  struct Observers {
    // Every invocation of an existing function, once answered (refusals
    // such as THROTTLED included): `response` is its answer (status set),
    // `started_unix_ms` when it was received.
    std::function<void(const std::string& function, const api::InvokeResponse& response,
                       const InvocationOrigin& origin, int64_t started_unix_ms)>
        invoked;
    // A function was deleted.
    std::function<void(const std::string& function)> removed;
    // The event service's gauges, for Health and /metrics: (asynchronous
    // events not finished, GetResult calls waiting).
    std::function<std::pair<uint32_t, uint32_t>()> event_gauges;
  };
  void set_observers(Observers observers) { observers_ = std::move(observers); }
  // The cancellation of invocations that no client can cancel (the event
  // service's attempts): cancelled at the drain deadline and when sproutd
  // stops, which kills their sandboxes.
  const std::shared_ptr<CallCancellation>& event_cancellation() const {
    return async_cancellation_;
  }

  void start_draining();
  // Kills the running event invocations: at the drain deadline, and when
  // sproutd stops.
  void kill_async_invocations() { async_cancellation_->cancel(); }
  uint32_t live_invocations() { return scheduler_.live(); }

  // Everything /metrics shows (metrics_exposition.h), copied now. Holds each
  // lock only to copy numbers: never waits for a load, a fork or an
  // invocation.
  NodeMetrics metrics();
  // Registers how a listener counts its open connections, for /metrics
  // (sprout_connections{listener=...}); an empty `count` removes it. `count`
  // is called on every render, with none of the manager's locks held, and
  // must be thread-safe; remove it before what it reads goes away.
  void set_connection_count(const std::string& listener, std::function<uint32_t()> count);

 private:
  // The part of invoke() after admission, on an invocation thread.
  api::Response run_admitted(FunctionVersion& version, const api::InvokeRequest& request,
                             const std::string& request_id, int cancel_fd,
                             std::chrono::steady_clock::time_point received,
                             std::chrono::microseconds queued);
  // The snapshot an invocation runs on; the init it reports (REPORT's Init
  // Duration) when it is the first on a freshly loaded snapshot; and how
  // long it waited for a load on its own critical path (Metrics.init_us).
  struct RunOn {
    Result<std::shared_ptr<FunctionSnapshot>> snapshot;
    std::optional<uint64_t> init_us;
    uint64_t waited_for_load_us = 0;
  };
  RunOn snapshot_for_invocation(FunctionVersion& version);
  std::shared_ptr<FunctionVersion> lookup(const std::string& name);
  // Gives a new version the mounts set for its name, before its first load.
  void apply_read_only_mounts(FunctionVersion& version);
  std::vector<std::shared_ptr<FunctionVersion>> current_versions();

  // The maintenance thread: wakes every 50 ms, or when an invocation ends.
  void maintain();
  void maintenance_pass();
  void wake_maintenance() { maintenance_wake_.notify_all(); }

  const DaemonConfig config_;
  Registry& registry_;
  CgroupPool* cgroups_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Scheduler scheduler_;
  // Before the functions: outlives every pin a version holds.
  ZygoteTable zygotes_;

  std::mutex functions_mutex_;  // held only to read or change the maps, never across a load
  std::map<std::string, std::shared_ptr<FunctionVersion>> functions_;
  std::map<std::string, std::shared_ptr<FunctionStats>> stats_;
  std::map<std::string, std::shared_ptr<std::mutex>> deploy_locks_;
  std::map<std::string, std::vector<ReadOnlyMount>> read_only_mounts_;  // by function name

  std::mutex connection_counts_mutex_;
  std::map<std::string, std::function<uint32_t()>> connection_counts_;

  Observers observers_;
  // Shared by every event invocation, in place of a client's.
  const std::shared_ptr<CallCancellation> async_cancellation_ = CallCancellation::create();

  std::atomic<bool> draining_{false};
  PreforkKeeper prefork_;
  std::mutex maintenance_mutex_;
  std::condition_variable maintenance_wake_;
  bool maintenance_stop_ = false;
  std::thread maintenance_;
  // Last: ends (running what is queued) before anything its tasks use.
  ThreadPool invocation_threads_;
};

}  // namespace sprout::supervisor
