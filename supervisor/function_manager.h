// The heart of sproutd: deployed functions and their snapshots, the zygotes
// they come from, admission, pre-fork pools, metering. Every method is
// thread-safe and may block (it runs on worker threads, never on Asio's).
//
// Versions: a deploy creates version N+1 and swaps it in atomically; an
// invocation holds its version (and that version's snapshot) until it ends,
// so invocations already running on the old version finish on it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/proto/sprout_api.pb.h"
#include "sandbox/cgroup_pool.h"
#include "snapshot/runtime_zygote.h"
#include "supervisor/function_stats.h"
#include "supervisor/proto/daemon_config.pb.h"
#include "supervisor/registry.h"
#include "supervisor/scheduler.h"
#include "supervisor/thread_pool.h"

namespace sprout::supervisor {

inline constexpr size_t kMaxPayloadBytes = 6 * 1024 * 1024;

class FunctionManager {
 public:
  FunctionManager(const DaemonConfig& config, Registry& registry, CgroupPool* cgroups,
                  std::string agent_path);
  ~FunctionManager();

  // Loads every function the registry holds (after a restart).
  void restore();

  api::Response deploy(api::DeployRequest request);
  api::Response invoke(const api::InvokeRequest& request, int cancel_fd,
                       std::chrono::steady_clock::time_point received);
  api::Response list();
  api::Response get(const std::string& name);
  api::Response remove(const std::string& name);
  api::Response stats(const std::string& name);
  api::Response health();

  // InvokeAsync / GetResult: the invocation runs on `workers`.
  api::Response submit(const api::InvokeRequest& request, ThreadPool& workers);
  api::Response get_result(const api::GetResultRequest& request);

  void start_draining();
  uint32_t live_invocations() { return scheduler_.live(); }

 private:
  struct FunctionVersion;
  struct AsyncInvocation;

  std::shared_ptr<FunctionVersion> lookup(const std::string& name);
  Result<RuntimeZygote*> zygote_for(agent::RuntimeKind runtime);
  // The version's snapshot, rebuilt from its zygote if it died.
  Result<std::shared_ptr<FunctionSnapshot>> live_snapshot(FunctionVersion& version);
  Result<LoadOutcome> load_version(const FunctionVersion& version);
  api::FunctionInfo info_of(FunctionVersion& version);
  void keep_pools();

  const DaemonConfig config_;
  Registry& registry_;
  CgroupPool* cgroups_;
  const std::string agent_path_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Scheduler scheduler_;
  LauncherThread launcher_;

  std::mutex zygotes_mutex_;
  std::map<agent::RuntimeKind, std::unique_ptr<RuntimeZygote>> zygotes_;

  std::mutex functions_mutex_;
  std::map<std::string, std::shared_ptr<FunctionVersion>> functions_;
  std::map<std::string, std::shared_ptr<FunctionStats>> stats_;
  std::map<std::string, std::shared_ptr<std::mutex>> deploy_locks_;

  std::mutex async_mutex_;
  std::map<std::string, std::shared_ptr<AsyncInvocation>> async_;
  std::deque<std::string> async_order_;

  std::atomic<bool> draining_{false};
  std::mutex keeper_mutex_;
  std::condition_variable keeper_wake_;
  bool keeper_stop_ = false;
  std::thread keeper_;
};

}  // namespace sprout::supervisor
