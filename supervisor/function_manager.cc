#include "supervisor/function_manager.h"

#include "base/log.h"
#include "supervisor/api_translation.h"
#include "supervisor/lambda_log_lines.h"
#include "supervisor/request_id.h"
#include "supervisor/validation.h"

namespace sprout::supervisor {
namespace {

constexpr const char* kVersionString = "sprout 0.1.0";

uint64_t microseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

FunctionManager::FunctionManager(const DaemonConfig& config, Registry& registry,
                                 CgroupPool* cgroups, std::string agent_path,
                                 std::optional<HostIdRange> host_ids)
    : config_(config),
      registry_(registry),
      cgroups_(cgroups),
      scheduler_(config.max_live_sandboxes(), config.max_queue(),
                 std::chrono::milliseconds(config.queue_timeout_ms())),
      zygotes_({.agent_path = std::move(agent_path),
                .python_pre_imports = {config.python_pre_imports().begin(),
                                       config.python_pre_imports().end()},
                .host_ids = std::move(host_ids)}),
      prefork_(config.prefork_threads()),
      // Every task holds an admitted slot, so max_live_sandboxes bounds them.
      invocation_threads_(4, config.max_live_sandboxes() + 4) {
  maintenance_ = std::thread([this] { maintain(); });
}

FunctionManager::~FunctionManager() {
  {
    std::lock_guard lock(maintenance_mutex_);
    maintenance_stop_ = true;
  }
  maintenance_wake_.notify_all();
  maintenance_.join();
  kill_async_invocations();
  std::map<std::string, std::shared_ptr<FunctionVersion>> functions;
  {
    std::lock_guard lock(functions_mutex_);
    functions.swap(functions_);
  }
  functions.clear();  // snapshots shut down, idle sandboxes killed, pins released
  zygotes_.stop_unpinned();
}

std::shared_ptr<FunctionVersion> FunctionManager::lookup(const std::string& name) {
  std::lock_guard lock(functions_mutex_);
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<FunctionVersion>> FunctionManager::current_versions() {
  std::vector<std::shared_ptr<FunctionVersion>> versions;
  std::lock_guard lock(functions_mutex_);
  versions.reserve(functions_.size());
  for (const auto& [name, version] : functions_) versions.push_back(version);
  return versions;
}

void FunctionManager::restore() {
  auto stored = registry_.load_all();
  if (!stored) {
    log_line(LogLevel::kError, "cannot read the registry: " + stored.error().message());
    return;
  }
  // Nothing is loaded now: a snapshot (and its tenant's zygote) starts with
  // the function's first invocation, so a restart does not bring back every
  // function that was ever deployed.
  for (auto& function : *stored) {
    const std::string name = function.info.spec().name();
    auto version =
        std::make_shared<FunctionVersion>(std::move(function.info), function.code, config_);
    version->mark_not_loaded();
    apply_read_only_mounts(*version);
    std::lock_guard lock(functions_mutex_);
    auto& stats = stats_[name];
    if (!stats) stats = std::make_shared<FunctionStats>();
    version->stats = stats;
    functions_[name] = version;
  }
  log_line(LogLevel::kInfo, "restored " + std::to_string(stored->size()) +
                                " function(s); each loads on its first invocation");
}

api::Response FunctionManager::deploy(api::DeployRequest request) {
  if (draining_) return error_response(api::UNAVAILABLE, "sproutd is shutting down");
  api::FunctionSpec spec = std::move(*request.mutable_spec());
  if (std::string problem = validate_function_spec(spec); !problem.empty()) {
    return error_response(api::INVALID_ARGUMENT, problem);
  }
  apply_function_defaults(spec);
  std::shared_ptr<std::mutex> deploy_lock;
  {
    std::lock_guard lock(functions_mutex_);
    auto& slot = deploy_locks_[spec.name()];
    if (!slot) slot = std::make_shared<std::mutex>();
    deploy_lock = slot;
  }
  // Deploys of one name are serialized; invocations are not held up.
  std::lock_guard serialized(*deploy_lock);
  const std::string code = std::move(*spec.mutable_code());
  spec.clear_code();

  api::FunctionInfo info;
  info.set_version(registry_.next_version(spec.name()));
  info.set_code_size(code.size());
  info.set_deployed_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  *info.mutable_spec() = spec;
  // From its tenant's zygote (a tenant changed by this deploy included).
  auto version = std::make_shared<FunctionVersion>(std::move(info), code, config_);
  apply_read_only_mounts(*version);
  auto loaded = version->load(zygotes_, cgroups_);
  if (!loaded)
    return error_response(api::INTERNAL, "deploy " + spec.name() + ": " + loaded.error().message());
  if (!loaded->init.ok()) {
    // Nothing is stored: the previous version, if any, stays current.
    return init_error_response(loaded->init, loaded->init_logs, version->info());
  }
  if (auto saved = registry_.save(version->info(), code); !saved) {
    return error_response(api::INTERNAL, "store " + spec.name() + ": " + saved.error().message());
  }
  // The init as the snapshot measured it, for the first invocation on this
  // snapshot to report: noted before the version is published, so that no
  // invocation can run on the snapshot first. (settle(0) only hands out the
  // resident snapshot: a zero TTL evicts nothing.)
  const uint64_t init_us = loaded->init.init_duration_us();
  const std::shared_ptr<FunctionSnapshot> resident = version->settle(0);
  std::shared_ptr<FunctionVersion> replaced;
  {
    std::lock_guard lock(functions_mutex_);
    auto& stats = stats_[spec.name()];
    if (!stats) stats = std::make_shared<FunctionStats>();
    version->stats = stats;
    stats->init_reports().loaded(resident, init_us);
    replaced = std::exchange(functions_[spec.name()], version);
  }
  version->stats->record_init(init_us);
  // A trigger added or removed while this version loaded changed the set
  // after it was applied: applied again (no change, nothing happens).
  apply_read_only_mounts(*version);
  // Outside the lock: the old snapshot ends here unless invocations still
  // hold it, then with the last of them.
  replaced.reset();
  wake_maintenance();
  log_line(LogLevel::kInfo,
           "deployed " + version->label() + " (" + api::Runtime_Name(spec.runtime()) + ", tenant " +
               version->info().tenant() + ", " + std::to_string(code.size()) + " bytes)");
  api::Response response;
  response.set_status(api::OK);
  *response.mutable_deploy()->mutable_function() = version->describe();
  response.mutable_deploy()->set_init_logs(loaded->init_logs);
  return response;
}

void FunctionManager::invoke(const api::InvokeRequest& request,
                             const std::shared_ptr<CallCancellation>& cancellation,
                             std::chrono::steady_clock::time_point received, const Reply& answer,
                             const InvocationOrigin& origin) {
  if (draining_) return answer(error_response(api::UNAVAILABLE, "sproutd is shutting down"));
  auto version = lookup(request.function());
  if (!version)
    return answer(
        error_response(api::NOT_FOUND, "function '" + request.function() + "' not found"));
  // Chosen here, not by the snapshot, so that an invocation that never
  // reaches a sandbox (a refusal) still has an id for the history and its
  // log lines; an event keeps its id across attempts.
  const std::string request_id = origin.request_id.empty() ? new_request_id() : origin.request_id;
  // Every answer from here on is an invocation of an existing function:
  // the history records it, whatever the outcome.
  Reply reply = answer;
  if (observers_.invoked) {
    const int64_t started_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
    reply = [this, answer, origin, request_id, started_unix_ms,
             function = request.function()](api::Response response) {
      // The answer as it is (no copy of a result of up to 6 MiB on every
      // invocation); a refusal has none, so a small one is made for it.
      if (response.has_invoke()) {
        observers_.invoked(function, response.invoke(), origin, started_unix_ms);
      } else {
        api::InvokeResponse refused;
        refused.set_status(response.status());
        refused.set_detail(response.error());
        refused.set_request_id(request_id);
        observers_.invoked(function, refused, origin, started_unix_ms);
      }
      answer(std::move(response));
    };
  }
  if (request.payload().size() > kMaxPayloadBytes) {
    return reply(error_response(api::PAYLOAD_TOO_LARGE,
                                "payload of " + std::to_string(request.payload().size()) +
                                    " bytes over the limit of 6 MiB"));
  }
  const api::FunctionSpec& spec = version->spec();
  auto shared_request = std::make_shared<const api::InvokeRequest>(request);
  // The cancellation hook of a queued call is dropped once it is decided:
  // the async invocations share one cancellation, which must not collect
  // a hook per call.
  struct QueuedHook {
    std::mutex mutex;
    bool decided = false;
    uint64_t id = 0;
  };
  auto hook = std::make_shared<QueuedHook>();
  auto decide = [this, version, shared_request, request_id, cancellation, received, reply, hook](
                    Scheduler::Admission admission, Scheduler::Slot slot,
                    std::chrono::microseconds queued) {
    uint64_t hook_id;
    {
      std::lock_guard lock(hook->mutex);
      hook->decided = true;
      hook_id = hook->id;
    }
    if (hook_id) cancellation->forget(hook_id);
    const api::FunctionSpec& spec = version->spec();
    switch (admission) {
      case Scheduler::Admission::kAdmitted:
        break;
      case Scheduler::Admission::kQueueFull:
        version->stats->record_throttle();
        return reply(error_response(api::THROTTLED, "too many invocations waiting (queue of " +
                                                        std::to_string(config_.max_queue()) +
                                                        " full)"));
      case Scheduler::Admission::kQueueTimeout:
        version->stats->record_throttle();
        return reply(error_response(
            api::THROTTLED, "no free slot for " + spec.name() + " within " +
                                std::to_string(config_.queue_timeout_ms()) +
                                " ms (max_concurrency " + std::to_string(spec.max_concurrency()) +
                                ")"));
      case Scheduler::Admission::kDraining:
        return reply(error_response(api::UNAVAILABLE, "sproutd is shutting down"));
    }
    // The slot travels with the task (std::function wants a copyable one).
    auto held = std::make_shared<Scheduler::Slot>(std::move(slot));
    invocation_threads_.post([this, version, shared_request, request_id, cancellation, received,
                              reply, queued, held] {
      const int cancel_fd = cancellation ? cancellation->fd() : -1;
      api::Response response =
          run_admitted(*version, *shared_request, request_id, cancel_fd, received, queued);
      *held = Scheduler::Slot();  // free the slot before answering
      reply(std::move(response));
    });
  };
  const uint64_t ticket = scheduler_.request(spec.name(), spec.max_concurrency(), decide);
  if (ticket != 0 && cancellation) {
    // A client that leaves while its call is queued frees its place. If the
    // call was admitted meanwhile, cancel() finds nothing and the running
    // invocation sees the cancellation's fd instead.
    const uint64_t id = cancellation->on_cancel([this, ticket, reply] {
      if (scheduler_.cancel(ticket))
        reply(error_response(api::UNAVAILABLE,
                             "the client went away while the invocation waited for a slot"));
    });
    std::lock_guard lock(hook->mutex);
    if (hook->decided)
      cancellation->forget(id);
    else
      hook->id = id;
  }
}

api::Response FunctionManager::run_admitted(FunctionVersion& version,
                                            const api::InvokeRequest& request,
                                            const std::string& request_id, int cancel_fd,
                                            std::chrono::steady_clock::time_point received,
                                            std::chrono::microseconds queued) {
  const api::FunctionSpec& spec = version.spec();
  // In flight from before the snapshot is looked up until the answer: a
  // snapshot with an invocation in flight is never evicted.
  version.invocation_started();
  struct InFlight {
    FunctionVersion& version;
    FunctionManager& manager;
    ~InFlight() {
      version.invocation_ended();
      manager.wake_maintenance();  // refill the pre-fork pool
    }
  } in_flight{version, *this};

  api::Response response;
  auto* invoke = response.mutable_invoke();
  invoke->set_function_version(version.info().version());
  const uint32_t timeout_ms =
      request.timeout_ms() ? std::min(request.timeout_ms(), spec.timeout_ms()) : spec.timeout_ms();
  Result<InvocationResult> result = plain_error("invoke", "not run");
  std::optional<uint64_t> init_us;
  uint64_t waited_for_load_us = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    RunOn run_on = snapshot_for_invocation(version);
    waited_for_load_us += run_on.waited_for_load_us;
    if (!run_on.snapshot) {
      fill_snapshot_failure(run_on.snapshot.error(), version.init_failure(), invoke);
      break;
    }
    if (run_on.init_us) init_us = run_on.init_us;
    const auto& snapshot = *run_on.snapshot;
    result = snapshot->invoke({.request_id = request_id,
                               .payload = request.payload(),
                               .timeout_ms = timeout_ms,
                               .cancel_fd = cancel_fd});
    // A snapshot that died before forking this invocation is rebuilt and
    // the invocation tried once more; nothing of it ran yet.
    if (result || snapshot->alive()) break;
  }
  if (result) {
    fill_invoke_response(std::move(*result), invoke);
  } else {
    fill_invoke_failure(result.error(), invoke);
  }
  if (invoke->request_id().empty()) invoke->set_request_id(request_id);
  auto* metrics = invoke->mutable_metrics();
  metrics->set_queue_us(queued.count());
  metrics->set_init_us(waited_for_load_us);
  metrics->set_total_us(microseconds_since(received));
  invoke->set_logs(with_lambda_log_lines({.request_id = invoke->request_id(),
                                          .version = version.info().version(),
                                          .run_us = metrics->run_us(),
                                          .billed_ms = metrics->billed_ms(),
                                          .memory_mb = spec.memory_mb(),
                                          .peak_memory_bytes = metrics->peak_memory_bytes(),
                                          .init_us = init_us},
                                         invoke->logs()));
  finish_invoke_response(&response);
  version.stats->record(invoke->status(), *metrics, spec.memory_mb());
  return response;
}

FunctionManager::RunOn FunctionManager::snapshot_for_invocation(FunctionVersion& version) {
  // A version without a live snapshot loads one in live_snapshot() (or
  // waits for the invocation that is loading it): this invocation's wait is
  // then the init's figure, on sproutd's clock, unless the deploy already
  // noted the snapshot's own.
  const bool resident = version.has_live_snapshot();
  const auto asked = std::chrono::steady_clock::now();
  RunOn run_on{.snapshot = version.live_snapshot(zygotes_, cgroups_)};
  if (!resident) run_on.waited_for_load_us = microseconds_since(asked);
  if (!run_on.snapshot) return run_on;
  InitReports& reports = version.stats->init_reports();
  if (!resident && reports.loaded(*run_on.snapshot, run_on.waited_for_load_us))
    version.stats->record_init(run_on.waited_for_load_us);
  run_on.init_us = reports.claim(*run_on.snapshot);
  return run_on;
}

void FunctionManager::set_read_only_mounts(const std::string& name,
                                           std::vector<ReadOnlyMount> mounts) {
  std::shared_ptr<FunctionVersion> version;
  {
    std::lock_guard lock(functions_mutex_);
    if (mounts.empty())
      read_only_mounts_.erase(name);
    else
      read_only_mounts_[name] = mounts;
    auto it = functions_.find(name);
    if (it != functions_.end()) version = it->second;
  }
  if (!version) return;
  if (auto set = version->set_read_only_mounts(std::move(mounts)); !set)
    log_line(LogLevel::kError, "read-only mounts of " + name + ": " + set.error().message());
  wake_maintenance();  // the dropped snapshot's pool is refilled from the new one
}

void FunctionManager::apply_read_only_mounts(FunctionVersion& version) {
  std::vector<ReadOnlyMount> mounts;
  {
    std::lock_guard lock(functions_mutex_);
    auto it = read_only_mounts_.find(version.spec().name());
    if (it == read_only_mounts_.end()) return;
    mounts = it->second;
  }
  if (auto set = version.set_read_only_mounts(std::move(mounts)); !set)
    log_line(LogLevel::kError,
             "read-only mounts of " + version.label() + ": " + set.error().message());
}

std::optional<api::AsyncConfig> FunctionManager::async_config(const std::string& name) {
  auto version = lookup(name);
  if (!version) return std::nullopt;
  return version->spec().async();
}

api::Response FunctionManager::list() {
  api::Response response;
  response.set_status(api::OK);
  auto* list = response.mutable_list();
  for (const auto& version : current_versions()) *list->add_functions() = version->describe();
  return response;
}

std::optional<FunctionManager::CurrentFunction> FunctionManager::current_function(
    const std::string& name) {
  auto version = lookup(name);
  if (!version) return std::nullopt;
  return CurrentFunction{version->describe(), version->code()};
}

api::Response FunctionManager::get(const std::string& name) {
  auto version = lookup(name);
  if (!version) return error_response(api::NOT_FOUND, "function '" + name + "' not found");
  api::Response response;
  response.set_status(api::OK);
  *response.mutable_get()->mutable_function() = version->describe();
  return response;
}

api::Response FunctionManager::remove(const std::string& name) {
  if (!is_valid_function_name(name))
    return error_response(api::INVALID_ARGUMENT, "invalid function name '" + name + "'");
  std::shared_ptr<FunctionVersion> removed;
  {
    std::lock_guard lock(functions_mutex_);
    auto it = functions_.find(name);
    if (it == functions_.end())
      return error_response(api::NOT_FOUND, "function '" + name + "' not found");
    removed = std::move(it->second);
    functions_.erase(it);
    stats_.erase(name);
  }
  if (auto removed_files = registry_.remove(name); !removed_files)
    return error_response(api::INTERNAL, removed_files.error().message());
  // The snapshot ends here, unless invocations still hold it: then with the
  // last of them. Its tenant's zygote stops now if nothing else needs it
  // (else on a later maintenance pass).
  removed.reset();
  zygotes_.stop_unpinned();
  if (observers_.removed) observers_.removed(name);
  log_line(LogLevel::kInfo, "deleted " + name);
  api::Response response;
  response.set_status(api::OK);
  response.mutable_delete_();
  return response;
}

api::Response FunctionManager::stats(const std::string& name) {
  api::Response response;
  response.set_status(api::OK);
  auto* out = response.mutable_stats();
  std::lock_guard lock(functions_mutex_);
  if (!name.empty()) {
    auto it = stats_.find(name);
    if (it == stats_.end())
      return error_response(api::NOT_FOUND, "function '" + name + "' not found");
    *out->add_functions() = it->second->snapshot(name);
    return response;
  }
  for (const auto& [function, stats] : stats_) *out->add_functions() = stats->snapshot(function);
  return response;
}

api::Response FunctionManager::health() {
  const auto versions = current_versions();
  uint32_t live_snapshots = 0;
  for (const auto& version : versions) live_snapshots += version->has_live_snapshot();
  api::Response response;
  response.set_status(api::OK);
  auto* health = response.mutable_health();
  health->set_serving(!draining_);
  health->set_version(kVersionString);
  health->set_uptime_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started_)
                            .count());
  health->set_functions(static_cast<uint32_t>(versions.size()));
  health->set_live_sandboxes(scheduler_.live());
  health->set_cgroups(cgroups_ ? cgroups_->layout().describe() : "none");
  health->set_live_zygotes(static_cast<uint32_t>(zygotes_.live_zygotes()));
  health->set_live_snapshots(live_snapshots);
  health->set_host_ids_in_use(static_cast<uint32_t>(zygotes_.host_ids_in_use()));
  health->set_queued_invocations(scheduler_.queued());
  if (observers_.event_gauges) {
    const auto [queued_events, result_waits] = observers_.event_gauges();
    health->set_queued_events(queued_events);
    health->set_result_waits(result_waits);
  }
  return response;
}

NodeMetrics FunctionManager::metrics() {
  NodeMetrics node;
  std::vector<std::pair<std::string, std::shared_ptr<FunctionStats>>> stats;
  {
    std::lock_guard lock(functions_mutex_);
    stats.assign(stats_.begin(), stats_.end());
  }
  node.functions.reserve(stats.size());
  for (const auto& [name, function_stats] : stats)
    node.functions.push_back({.name = name, .counters = function_stats->counters()});
  for (const auto& version : current_versions()) {
    // Read only: a render may run on a server thread, which must not end
    // (reap) a snapshot; the maintenance pass does that.
    if (version->has_live_snapshot()) ++node.live_snapshots;
    node.idle_sandboxes += version->describe().idle_sandboxes();
  }
  node.serving = !draining_;
  node.live_sandboxes = scheduler_.live();
  node.queued_invocations = scheduler_.queued();
  const Scheduler::Refusals refusals = scheduler_.refusals();
  node.refused_queue_full = refusals.queue_full;
  node.refused_queue_timeout = refusals.queue_timeout;
  node.live_zygotes = static_cast<uint32_t>(zygotes_.live_zygotes());
  node.host_ids_in_use = static_cast<uint32_t>(zygotes_.host_ids_in_use());
  if (observers_.event_gauges)
    std::tie(node.queued_events, node.result_waits) = observers_.event_gauges();
  std::map<std::string, std::function<uint32_t()>> counts;
  {
    std::lock_guard lock(connection_counts_mutex_);
    counts = connection_counts_;
  }
  // Outside the lock: a count may take its listener's own lock.
  for (const auto& [listener, count] : counts) node.connections.emplace_back(listener, count());
  return node;
}

void FunctionManager::set_connection_count(const std::string& listener,
                                           std::function<uint32_t()> count) {
  std::lock_guard lock(connection_counts_mutex_);
  if (count)
    connection_counts_[listener] = std::move(count);
  else
    connection_counts_.erase(listener);
}

void FunctionManager::start_draining() {
  draining_ = true;
  scheduler_.start_draining();
}

void FunctionManager::maintain() {
  std::unique_lock lock(maintenance_mutex_);
  while (!maintenance_stop_) {
    maintenance_wake_.wait_for(lock, std::chrono::milliseconds(50));
    if (maintenance_stop_) break;
    lock.unlock();
    maintenance_pass();
    lock.lock();
  }
}

// Holds functions_mutex_ only to copy the list; FunctionVersion::settle
// holds a version's lock only to swap its snapshot; refills fork on the
// keeper's threads. A slow function (a long init, a fork hook that blocks)
// holds up nobody else.
void FunctionManager::maintenance_pass() {
  const uint64_t idle_ttl_ms = uint64_t{config_.snapshot_idle_ttl_s()} * 1000;
  for (const auto& version : current_versions()) {
    auto snapshot = version->settle(idle_ttl_ms);
    if (snapshot && !draining_) prefork_.tend(version->prefork_pool(), snapshot);
  }
  // After the drops above, so that a zygote whose last snapshot was just
  // dropped stops in the same pass.
  zygotes_.stop_unpinned();
  zygotes_.reap_dead();
}

}  // namespace sprout::supervisor
