#include "supervisor/function_manager.h"

#include <sys/random.h>

#include <cstdio>

#include "sandbox/log.h"
#include "supervisor/validation.h"

namespace sprout::supervisor {
namespace {

constexpr const char* kVersionString = "sprout 0.1.0";

api::Response error_response(api::Status status, std::string message) {
  api::Response response;
  response.set_status(status);
  response.set_error(std::move(message));
  return response;
}

agent::RuntimeKind runtime_kind(api::Runtime runtime) {
  switch (runtime) {
    case api::PYTHON3:
      return agent::PYTHON3;
    case api::NATIVE:
      return agent::NATIVE;
    case api::EXEC:
      return agent::EXEC;
    default:
      return agent::RUNTIME_UNSPECIFIED;
  }
}

api::Status api_status(InvocationStatus status) {
  switch (status) {
    case InvocationStatus::kOk:
      return api::OK;
    case InvocationStatus::kFunctionError:
      return api::FUNCTION_ERROR;
    case InvocationStatus::kInitError:
      return api::INIT_ERROR;
    case InvocationStatus::kTimeout:
      return api::TIMEOUT;
    case InvocationStatus::kOutOfMemory:
      return api::OUT_OF_MEMORY;
    case InvocationStatus::kSeccompViolation:
      return api::SECCOMP_VIOLATION;
    case InvocationStatus::kCrashed:
      return api::CRASHED;
    case InvocationStatus::kInternal:
      return api::INTERNAL;
  }
  return api::INTERNAL;
}

FunctionDefinition definition_of(const api::FunctionSpec& spec, uint32_t version,
                                 const std::string& code) {
  FunctionDefinition definition;
  definition.name = spec.name();
  definition.version = std::to_string(version);
  definition.handler = spec.handler();
  definition.bundle_format = spec.code_format() == api::TAR ? agent::TAR : agent::SINGLE_FILE;
  definition.bundle_file_name = spec.code_file_name();
  definition.bundle = code;
  definition.timeout_ms = spec.timeout_ms();
  definition.sandbox.set_memory_limit_bytes(uint64_t{spec.memory_mb()} << 20);
  // Sorted, so that the environment does not depend on map order.
  std::map<std::string, std::string> env(spec.env().begin(), spec.env().end());
  for (const auto& [key, value] : env) definition.sandbox.add_env(key + "=" + value);
  definition.pre_imports.assign(spec.pre_imports().begin(), spec.pre_imports().end());
  return definition;
}

std::string random_id() {
  unsigned char bytes[16];
  if (getrandom(bytes, sizeof bytes, 0) != sizeof bytes) return std::to_string(std::rand());
  char text[33];
  for (int i = 0; i < 16; ++i) snprintf(text + 2 * i, 3, "%02x", bytes[i]);
  return text;
}

void fill_init_error(api::DeployResponse* deploy, const agent::InitResult& init,
                     const std::string& logs) {
  deploy->set_error_type(init.error_type());
  deploy->set_error_message(init.error_message());
  for (const auto& line : init.stack_trace()) deploy->add_stack_trace(line);
  deploy->set_init_logs(logs);
}

}  // namespace

struct FunctionManager::FunctionVersion {
  api::FunctionInfo info;
  FunctionDefinition definition;
  std::shared_ptr<FunctionStats> stats;
  std::mutex snapshot_mutex;
  std::shared_ptr<FunctionSnapshot> snapshot;  // null while init fails
  agent::InitResult init_failure;
  // Demand, for sizing the pre-fork pool.
  std::atomic<uint32_t> in_flight{0};
  std::atomic<uint32_t> recent_peak{0};
  std::atomic<int64_t> last_invoked_ms{0};
  int64_t prefork_retry_ms = 0;  // keeper thread only: no pre-fork before this
};

struct FunctionManager::AsyncInvocation {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  api::InvokeResponse response;
};

FunctionManager::FunctionManager(const DaemonConfig& config, Registry& registry,
                                 CgroupPool* cgroups, std::string agent_path)
    : config_(config),
      registry_(registry),
      cgroups_(cgroups),
      agent_path_(std::move(agent_path)),
      scheduler_(config.max_live_sandboxes(), config.max_queue(),
                 std::chrono::milliseconds(config.queue_timeout_ms())) {
  keeper_ = std::thread([this] { keep_pools(); });
}

FunctionManager::~FunctionManager() {
  {
    std::lock_guard lock(keeper_mutex_);
    keeper_stop_ = true;
  }
  keeper_wake_.notify_all();
  keeper_.join();
  {
    std::lock_guard lock(functions_mutex_);
    functions_.clear();  // snapshots shut down, idle sandboxes killed
  }
  std::lock_guard lock(zygotes_mutex_);
  zygotes_.clear();
}

Result<RuntimeZygote*> FunctionManager::zygote_for(agent::RuntimeKind runtime) {
  std::lock_guard lock(zygotes_mutex_);
  auto& slot = zygotes_[runtime];
  if (slot && slot->alive()) return slot.get();
  if (slot) {
    log_line(LogLevel::kWarning, std::string("runtime zygote ") + runtime_kind_name(runtime) + " " +
                                     slot->end_description() + "; starting a new one");
  }
  ZygoteOptions options;
  options.runtime = runtime;
  options.agent_path = agent_path_;
  options.uid = config_.sandbox_uid();
  options.gid = config_.sandbox_gid();
  if (runtime == agent::PYTHON3) {
    options.pre_imports.assign(config_.python_pre_imports().begin(),
                               config_.python_pre_imports().end());
  }
  Result<std::unique_ptr<RuntimeZygote>> started = plain_error("start zygote", "not run");
  launcher_.run([&] { started = RuntimeZygote::start(options); });
  if (!started) return std::unexpected(started.error());
  slot = std::move(*started);
  log_line(LogLevel::kInfo, std::string("runtime zygote ") + runtime_kind_name(runtime) +
                                " ready (pid " + std::to_string(slot->pid()) + ", init " +
                                std::to_string(slot->init_duration_us() / 1000) + " ms)");
  return slot.get();
}

Result<LoadOutcome> FunctionManager::load_version(const FunctionVersion& version) {
  auto zygote = zygote_for(runtime_kind(version.info.spec().runtime()));
  if (!zygote) return std::unexpected(zygote.error());
  auto loaded = (*zygote)->load(version.definition, cgroups_);
  if (!loaded && !(*zygote)->alive()) {
    // The zygote died under us: one retry with a fresh one.
    zygote = zygote_for(runtime_kind(version.info.spec().runtime()));
    if (!zygote) return std::unexpected(zygote.error());
    loaded = (*zygote)->load(version.definition, cgroups_);
  }
  return loaded;
}

Result<std::shared_ptr<FunctionSnapshot>> FunctionManager::live_snapshot(FunctionVersion& version) {
  std::lock_guard lock(version.snapshot_mutex);
  if (version.snapshot && version.snapshot->alive()) return version.snapshot;
  if (version.snapshot) {
    log_line(LogLevel::kWarning, "function snapshot " + version.definition.name + "@" +
                                     version.definition.version + " " +
                                     version.snapshot->end_description() + "; rebuilding it");
    version.snapshot.reset();
  } else if (!version.init_failure.ok() && !version.init_failure.error_type().empty()) {
    return plain_error(
        "init", version.init_failure.error_type() + ": " + version.init_failure.error_message());
  }
  auto loaded = load_version(version);
  if (!loaded) return std::unexpected(loaded.error());
  if (!loaded->init.ok()) {
    version.init_failure = loaded->init;
    return plain_error("init", loaded->init.error_type() + ": " + loaded->init.error_message());
  }
  version.snapshot = std::move(loaded->snapshot);
  return version.snapshot;
}

std::shared_ptr<FunctionManager::FunctionVersion> FunctionManager::lookup(const std::string& name) {
  std::lock_guard lock(functions_mutex_);
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : it->second;
}

void FunctionManager::restore() {
  auto stored = registry_.load_all();
  if (!stored) {
    log_line(LogLevel::kError, "cannot read the registry: " + stored.error().message());
    return;
  }
  for (auto& function : *stored) {
    auto version = std::make_shared<FunctionVersion>();
    version->info = function.info;
    version->definition =
        definition_of(function.info.spec(), function.info.version(), function.code);
    {
      std::lock_guard lock(functions_mutex_);
      auto& stats = stats_[function.info.spec().name()];
      if (!stats) stats = std::make_shared<FunctionStats>();
      version->stats = stats;
      functions_[function.info.spec().name()] = version;
    }
    auto snapshot = live_snapshot(*version);
    log_line(snapshot ? LogLevel::kInfo : LogLevel::kError,
             "restored " + function.info.spec().name() + " v" +
                 std::to_string(function.info.version()) +
                 (snapshot ? "" : ": " + snapshot.error().message()));
  }
}

api::FunctionInfo FunctionManager::info_of(FunctionVersion& version) {
  api::FunctionInfo info = version.info;
  std::lock_guard lock(version.snapshot_mutex);
  if (version.snapshot && version.snapshot->alive()) {
    info.set_state("ready");
    info.set_idle_sandboxes(static_cast<uint32_t>(version.snapshot->idle_count()));
  } else if (!version.init_failure.error_type().empty()) {
    info.set_state("failed: " + version.init_failure.error_type() + ": " +
                   version.init_failure.error_message());
  } else {
    info.set_state("stopped");
  }
  return info;
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

  auto version = std::make_shared<FunctionVersion>();
  version->info.set_version(registry_.next_version(spec.name()));
  version->info.set_code_size(code.size());
  version->info.set_deployed_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
  *version->info.mutable_spec() = spec;
  version->definition = definition_of(spec, version->info.version(), code);

  auto loaded = load_version(*version);
  if (!loaded)
    return error_response(api::INTERNAL, "deploy " + spec.name() + ": " + loaded.error().message());
  api::Response response;
  if (!loaded->init.ok()) {
    // Nothing is stored: the previous version, if any, stays current.
    response.set_status(api::INIT_ERROR);
    response.set_error(loaded->init.error_type() + ": " + loaded->init.error_message());
    fill_init_error(response.mutable_deploy(), loaded->init, loaded->init_logs);
    *response.mutable_deploy()->mutable_function() = version->info;
    return response;
  }
  version->snapshot = std::move(loaded->snapshot);
  if (auto saved = registry_.save(version->info, code); !saved) {
    return error_response(api::INTERNAL, "store " + spec.name() + ": " + saved.error().message());
  }
  {
    std::lock_guard lock(functions_mutex_);
    auto& stats = stats_[spec.name()];
    if (!stats) stats = std::make_shared<FunctionStats>();
    version->stats = stats;
    functions_[spec.name()] = version;
  }
  keeper_wake_.notify_all();
  log_line(LogLevel::kInfo,
           "deployed " + spec.name() + " v" + std::to_string(version->info.version()) + " (" +
               api::Runtime_Name(spec.runtime()) + ", " + std::to_string(code.size()) + " bytes)");
  response.set_status(api::OK);
  *response.mutable_deploy()->mutable_function() = info_of(*version);
  response.mutable_deploy()->set_init_logs(loaded->init_logs);
  return response;
}

api::Response FunctionManager::invoke(const api::InvokeRequest& request, int cancel_fd,
                                      std::chrono::steady_clock::time_point received) {
  if (draining_) return error_response(api::UNAVAILABLE, "sproutd is shutting down");
  auto version = lookup(request.function());
  if (!version)
    return error_response(api::NOT_FOUND, "function '" + request.function() + "' not found");
  if (request.payload().size() > kMaxPayloadBytes) {
    return error_response(api::PAYLOAD_TOO_LARGE, "payload of " +
                                                      std::to_string(request.payload().size()) +
                                                      " bytes over the limit of 6 MiB");
  }
  const api::FunctionSpec& spec = version->info.spec();
  Scheduler::Slot slot;
  std::chrono::microseconds waited{0};
  switch (scheduler_.admit(spec.name(), spec.max_concurrency(), &slot, &waited)) {
    case Scheduler::Admission::kAdmitted:
      break;
    case Scheduler::Admission::kQueueFull:
      return error_response(api::THROTTLED, "too many invocations waiting (queue of " +
                                                std::to_string(config_.max_queue()) + " full)");
    case Scheduler::Admission::kQueueTimeout:
      return error_response(api::THROTTLED, "no free slot for " + spec.name() + " within " +
                                                std::to_string(config_.queue_timeout_ms()) +
                                                " ms (max_concurrency " +
                                                std::to_string(spec.max_concurrency()) + ")");
    case Scheduler::Admission::kDraining:
      return error_response(api::UNAVAILABLE, "sproutd is shutting down");
  }
  uint32_t now_in_flight = ++version->in_flight;
  uint32_t peak = version->recent_peak.load();
  while (now_in_flight > peak && !version->recent_peak.compare_exchange_weak(peak, now_in_flight)) {
  }
  version->last_invoked_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
  struct InFlight {
    FunctionVersion& version;
    FunctionManager& manager;
    ~InFlight() {
      --version.in_flight;
      manager.keeper_wake_.notify_all();  // refill the pre-fork pool
    }
  } in_flight{*version, *this};

  api::Response response;
  auto* invoke = response.mutable_invoke();
  invoke->set_function_version(version->info.version());
  const uint32_t timeout_ms =
      request.timeout_ms() ? std::min(request.timeout_ms(), spec.timeout_ms()) : spec.timeout_ms();
  Result<InvocationResult> result = plain_error("invoke", "not run");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto snapshot = live_snapshot(*version);
    if (!snapshot) {
      bool init = snapshot.error().step == "init";
      invoke->set_status(init ? api::INIT_ERROR : api::INTERNAL);
      invoke->set_detail(snapshot.error().message());
      if (init) {
        invoke->set_error_type(version->init_failure.error_type());
        invoke->set_error_message(version->init_failure.error_message());
      }
      break;
    }
    result = (*snapshot)->invoke(
        {.payload = request.payload(), .timeout_ms = timeout_ms, .cancel_fd = cancel_fd});
    // A snapshot that died before forking this invocation is rebuilt and
    // the invocation tried once more; nothing of it ran yet.
    if (result || (*snapshot)->alive()) break;
  }
  if (result) {
    invoke->set_status(api_status(result->status));
    invoke->set_request_id(result->request_id);
    invoke->set_detail(result->detail);
    invoke->set_result(std::move(result->result));
    invoke->set_error_type(result->error_type);
    invoke->set_error_message(result->error_message);
    for (auto& line : result->stack_trace) invoke->add_stack_trace(std::move(line));
    invoke->set_logs(std::move(result->logs));
    invoke->set_logs_truncated(result->logs_truncated);
    auto* metrics = invoke->mutable_metrics();
    metrics->set_fork_us(result->metrics.fork_us);
    metrics->set_init_us(result->metrics.init_us);
    metrics->set_run_us(result->metrics.run_us);
    metrics->set_cpu_time_us(result->metrics.cpu_time_us);
    metrics->set_peak_memory_bytes(result->metrics.peak_memory_bytes);
    metrics->set_preforked(result->metrics.preforked);
    metrics->set_billed_ms(billed_milliseconds(result->metrics.run_us));
  } else if (invoke->status() == api::STATUS_UNSPECIFIED) {
    invoke->set_status(api::INTERNAL);
    invoke->set_detail(result.error().message());
  }
  auto* metrics = invoke->mutable_metrics();
  metrics->set_queue_us(waited.count());
  metrics->set_total_us(std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - received)
                            .count());
  response.set_status(invoke->status());
  if (invoke->status() != api::OK) response.set_error(invoke->detail());
  version->stats->record(invoke->status(), *metrics, spec.memory_mb());
  return response;
}

api::Response FunctionManager::submit(const api::InvokeRequest& request, ThreadPool& workers) {
  if (draining_) return error_response(api::UNAVAILABLE, "sproutd is shutting down");
  if (!lookup(request.function()))
    return error_response(api::NOT_FOUND, "function '" + request.function() + "' not found");
  auto invocation = std::make_shared<AsyncInvocation>();
  const std::string id = random_id();
  {
    std::lock_guard lock(async_mutex_);
    async_[id] = invocation;
    async_order_.push_back(id);
    // Bounded: the oldest finished results are forgotten first.
    while (async_order_.size() > config_.async_results_kept()) {
      auto oldest = async_.find(async_order_.front());
      if (oldest != async_.end()) {
        std::lock_guard done(oldest->second->mutex);
        if (!oldest->second->done) break;
        async_.erase(oldest);
      }
      async_order_.pop_front();
    }
  }
  const auto received = std::chrono::steady_clock::now();
  workers.post([this, request, invocation, received] {
    api::Response response = invoke(request, -1, received);
    api::InvokeResponse result = response.has_invoke() ? response.invoke() : api::InvokeResponse();
    if (!response.has_invoke()) {
      result.set_status(response.status());
      result.set_detail(response.error());
    }
    std::lock_guard lock(invocation->mutex);
    invocation->response = std::move(result);
    invocation->done = true;
    invocation->finished.notify_all();
  });
  api::Response response;
  response.set_status(api::OK);
  response.mutable_invoke_async()->set_invocation_id(id);
  return response;
}

api::Response FunctionManager::get_result(const api::GetResultRequest& request) {
  std::shared_ptr<AsyncInvocation> invocation;
  {
    std::lock_guard lock(async_mutex_);
    auto it = async_.find(request.invocation_id());
    if (it == async_.end())
      return error_response(api::NOT_FOUND, "no invocation '" + request.invocation_id() + "'");
    invocation = it->second;
  }
  std::unique_lock lock(invocation->mutex);
  if (request.wait()) invocation->finished.wait(lock, [&] { return invocation->done; });
  api::Response response;
  response.set_status(api::OK);
  response.mutable_get_result()->set_done(invocation->done);
  if (invocation->done) *response.mutable_get_result()->mutable_result() = invocation->response;
  return response;
}

api::Response FunctionManager::list() {
  std::vector<std::shared_ptr<FunctionVersion>> versions;
  {
    std::lock_guard lock(functions_mutex_);
    for (const auto& [name, version] : functions_) versions.push_back(version);
  }
  api::Response response;
  response.set_status(api::OK);
  auto* list = response.mutable_list();
  for (const auto& version : versions) *list->add_functions() = info_of(*version);
  return response;
}

api::Response FunctionManager::get(const std::string& name) {
  auto version = lookup(name);
  if (!version) return error_response(api::NOT_FOUND, "function '" + name + "' not found");
  api::Response response;
  response.set_status(api::OK);
  *response.mutable_get()->mutable_function() = info_of(*version);
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
  if (auto r = registry_.remove(name); !r)
    return error_response(api::INTERNAL, r.error().message());
  log_line(LogLevel::kInfo, "deleted " + name);
  api::Response response;
  response.set_status(api::OK);
  response.mutable_delete_();
  return response;  // running invocations keep `removed` alive until they end
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
  api::Response response;
  response.set_status(api::OK);
  auto* health = response.mutable_health();
  health->set_serving(!draining_);
  health->set_version(kVersionString);
  health->set_uptime_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started_)
                            .count());
  {
    std::lock_guard lock(functions_mutex_);
    health->set_functions(static_cast<uint32_t>(functions_.size()));
  }
  health->set_live_sandboxes(scheduler_.live());
  health->set_cgroups(cgroups_ ? cgroups_->layout().describe() : "none");
  return response;
}

void FunctionManager::start_draining() {
  draining_ = true;
  scheduler_.start_draining();
}

// Sizes each function's pool of pre-forked sandboxes to recent demand: the
// peak of concurrent invocations in the last window, between prefork_min and
// prefork_max; a function not invoked for a minute keeps only prefork_min.
void FunctionManager::keep_pools() {
  constexpr auto kWindow = std::chrono::seconds(2);
  auto window_start = std::chrono::steady_clock::now();
  std::unique_lock lock(keeper_mutex_);
  while (!keeper_stop_) {
    keeper_wake_.wait_for(lock, std::chrono::milliseconds(50));
    if (keeper_stop_ || draining_) continue;
    lock.unlock();
    std::vector<std::shared_ptr<FunctionVersion>> versions;
    {
      std::lock_guard functions(functions_mutex_);
      for (const auto& [name, version] : functions_) versions.push_back(version);
    }
    const bool new_window = std::chrono::steady_clock::now() - window_start > kWindow;
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
    for (const auto& version : versions) {
      const auto& spec = version->info.spec();
      if (spec.prefork_max() == 0 || now_ms < version->prefork_retry_ms) continue;
      const bool recently_used = now_ms - version->last_invoked_ms.load() < 60000;
      uint32_t demand = recently_used ? std::max<uint32_t>(1, version->recent_peak.load()) : 0;
      const uint32_t target = std::clamp(demand, spec.prefork_min(), spec.prefork_max());
      std::shared_ptr<FunctionSnapshot> snapshot;
      {
        std::lock_guard guard(version->snapshot_mutex);
        snapshot = version->snapshot;
      }
      if (!snapshot || !snapshot->alive()) continue;
      // Leave room for invocations: pre-forked sandboxes hold cgroup leaves
      // and memory, not slots, but never crowd out the live limit.
      for (size_t idle = snapshot->idle_count(); idle < target && !keeper_stop_; ++idle) {
        if (auto r = snapshot->prefork(1); !r) {
          // One line, then a pause: a failing pre-fork must not flood the log.
          log_line(LogLevel::kWarning,
                   "pre-fork " + spec.name() + ": " + r.error().message() + "; retrying in 1 s");
          version->prefork_retry_ms = now_ms + 1000;
          break;
        }
      }
      if (new_window) version->recent_peak = version->in_flight.load();
    }
    if (new_window) window_start = std::chrono::steady_clock::now();
    lock.lock();
  }
}

}  // namespace sprout::supervisor
