#include "supervisor/function_version.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "base/log.h"
#include "supervisor/validation.h"

namespace sprout::supervisor {
namespace {

constexpr const char* kLoadingState = "loading (init running)";
constexpr const char* kNotLoadedState = "idle (not loaded since sproutd started)";
constexpr const char* kEvictedState = "idle (evicted)";
// A reload whose init failed (an init that passed at deploy, so possibly a
// passing cause: a slow machine, a memory peak) is tried again by an
// invocation after this long; meanwhile invocations answer with the failure.
constexpr int64_t kInitRetryMs = 10000;
// Loads done again because the read-only mounts changed while one ran,
// before the load gives up (a set changing that often is a caller's bug).
constexpr int kLoadsPerMountChange = 3;

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
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

api::FunctionInfo with_effective_tenant(api::FunctionInfo info) {
  info.set_tenant(effective_tenant(info.spec()));
  return info;
}

FunctionDefinition definition_of(const api::FunctionInfo& info, const std::string& code,
                                 const DaemonConfig& config) {
  const api::FunctionSpec& spec = info.spec();
  FunctionDefinition definition;
  definition.name = spec.name();
  definition.version = std::to_string(info.version());
  definition.tenant = info.tenant();
  definition.handler = spec.handler();
  definition.bundle_format = spec.code_format() == api::TAR   ? agent::TAR
                             : spec.code_format() == api::ZIP ? agent::ZIP
                                                              : agent::SINGLE_FILE;
  definition.bundle_file_name = spec.code_file_name();
  definition.bundle = code;
  definition.timeout_ms = spec.timeout_ms();
  definition.fork_timeout_ms = config.fork_timeout_ms();
  definition.sandbox.set_memory_limit_bytes(uint64_t{spec.memory_mb()} << 20);
  // Sorted, so that the environment does not depend on map order.
  std::map<std::string, std::string> env(spec.env().begin(), spec.env().end());
  for (const auto& [key, value] : env) definition.sandbox.add_env(key + "=" + value);
  definition.pre_imports.assign(spec.pre_imports().begin(), spec.pre_imports().end());
  return definition;
}

}  // namespace

FunctionVersion::FunctionVersion(api::FunctionInfo info, const std::string& code,
                                 const DaemonConfig& config)
    : info_(with_effective_tenant(std::move(info))),
      definition_(definition_of(info_, code, config)),
      zygote_key_{info_.tenant(), runtime_kind(info_.spec().runtime())},
      label_(info_.spec().name() + "@" + std::to_string(info_.version())),
      prefork_pool_(std::make_shared<PreforkKeeper::Pool>(label_, info_.spec().prefork_min(),
                                                          info_.spec().prefork_max())) {}

Result<LoadOutcome> FunctionVersion::load(ZygoteTable& zygotes, CgroupPool* cgroups) {
  std::lock_guard loading(load_mutex_);
  return load_locked(zygotes, cgroups);
}

Result<LoadOutcome> FunctionVersion::load_locked(ZygoteTable& zygotes, CgroupPool* cgroups) {
  // The pin keeps the tenant's zygote while the load runs, and then for as
  // long as the snapshot is kept.
  auto pin = zygotes.pin(zygote_key_);
  for (int attempt = 1;; ++attempt) {
    uint64_t generation = 0;
    {
      std::lock_guard lock(snapshot_mutex_);
      definition_.read_only_mounts = read_only_mounts_;
      generation = read_only_mounts_generation_;
    }
    loading_ = true;
    auto loaded = zygotes.load(pin, definition_, cgroups);
    loading_ = false;
    if (!loaded) return loaded;
    std::unique_lock lock(snapshot_mutex_);
    if (generation == read_only_mounts_generation_) return keep_loaded(std::move(*loaded), pin);
    // The set changed during the load: this snapshot mounts the old one.
    lock.unlock();
    loaded->snapshot.reset();  // ends it, outside the lock
    if (attempt == kLoadsPerMountChange) {
      return plain_error("load " + label_, "the read-only mounts changed during each of " +
                                               std::to_string(kLoadsPerMountChange) + " loads");
    }
  }
}

LoadOutcome FunctionVersion::keep_loaded(LoadOutcome loaded, ZygoteTable::Pin& pin) {
  if (!loaded.init.ok()) {
    init_failure_ = loaded.init;
    init_failed_ms_ = steady_now_ms();
    return loaded;
  }
  init_failure_.Clear();
  snapshot_ = std::move(loaded.snapshot);
  zygote_pin_ = std::move(pin);
  absent_state_.clear();
  last_used_ms_ = steady_now_ms();
  return loaded;
}

Result<void> FunctionVersion::set_read_only_mounts(std::vector<ReadOnlyMount> mounts) {
  if (auto valid = validate_read_only_mounts(mounts); !valid)
    return plain_error("read-only mounts of " + label_, valid.error().message());
  // By name, so that the same set given in another order is no change.
  std::sort(mounts.begin(), mounts.end(),
            [](const ReadOnlyMount& a, const ReadOnlyMount& b) { return a.name < b.name; });
  // Declared in this order so that the snapshot ends before its pin goes.
  ZygoteTable::Pin dropped_pin;
  std::shared_ptr<FunctionSnapshot> dropped;
  {
    std::lock_guard lock(snapshot_mutex_);
    if (mounts == read_only_mounts_) return {};
    read_only_mounts_ = std::move(mounts);
    ++read_only_mounts_generation_;
    if (snapshot_) {
      dropped = std::move(snapshot_);
      dropped_pin = std::move(zygote_pin_);
      absent_state_ = kEvictedState;
    }
  }
  if (dropped) {
    log_line(LogLevel::kInfo, "function snapshot " + label_ +
                                  " evicted: its read-only mounts changed; the next invocation "
                                  "loads it with the new set");
  }
  dropped.reset();  // outside the lock: ends it, unless an invocation still holds it
  return {};
}

std::vector<ReadOnlyMount> FunctionVersion::read_only_mounts() {
  std::lock_guard lock(snapshot_mutex_);
  return read_only_mounts_;
}

Result<std::shared_ptr<FunctionSnapshot>> FunctionVersion::live_snapshot(ZygoteTable& zygotes,
                                                                         CgroupPool* cgroups) {
  auto resident = [this]() -> std::shared_ptr<FunctionSnapshot> {
    std::lock_guard lock(snapshot_mutex_);
    return snapshot_ && snapshot_->alive() ? snapshot_ : nullptr;
  };
  if (auto snapshot = resident()) return snapshot;
  std::lock_guard loading(load_mutex_);
  // Declared in this order so that the snapshot ends before its pin goes.
  ZygoteTable::Pin ended_pin;
  std::shared_ptr<FunctionSnapshot> ended;
  {
    std::lock_guard lock(snapshot_mutex_);
    // Another invocation may have loaded it while we waited.
    if (snapshot_ && snapshot_->alive()) return snapshot_;
    if (!init_failure_.error_type().empty() && steady_now_ms() - init_failed_ms_ < kInitRetryMs)
      return plain_error(ErrorCode::kInitFailed, "init",
                         init_failure_.error_type() + ": " + init_failure_.error_message());
    if (snapshot_) {
      log_line(LogLevel::kWarning, "function snapshot " + label_ + " " +
                                       snapshot_->end_description() + "; rebuilding it");
      ended = std::move(snapshot_);
      ended_pin = std::move(zygote_pin_);
    }
  }
  ended.reset();  // outside the lock: reaps it
  auto loaded = load_locked(zygotes, cgroups);
  if (!loaded) return std::unexpected(loaded.error());
  if (!loaded->init.ok()) {
    log_line(LogLevel::kWarning, "reloading " + label_ +
                                     ": init failed: " + loaded->init.error_type() + ": " +
                                     loaded->init.error_message());
    return plain_error(ErrorCode::kInitFailed, "init",
                       loaded->init.error_type() + ": " + loaded->init.error_message());
  }
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

void FunctionVersion::mark_not_loaded() {
  std::lock_guard lock(snapshot_mutex_);
  if (!snapshot_) absent_state_ = kNotLoadedState;
}

void FunctionVersion::invocation_started() {
  prefork_pool_->invocation_started();
  last_used_ms_ = steady_now_ms();
}

void FunctionVersion::invocation_ended() {
  last_used_ms_ = steady_now_ms();
  prefork_pool_->invocation_ended();
}

std::shared_ptr<FunctionSnapshot> FunctionVersion::settle(uint64_t idle_ttl_ms) {
  // Declared before `dropped`, destroyed after it: the zygote stays pinned
  // until the snapshot has ended.
  ZygoteTable::Pin dropped_pin;
  std::shared_ptr<FunctionSnapshot> dropped;
  std::string why;
  {
    std::lock_guard lock(snapshot_mutex_);
    if (!snapshot_) return nullptr;
    const int64_t unused_ms = steady_now_ms() - last_used_ms_.load();
    if (!snapshot_->alive()) {
      why = snapshot_->end_description() + "; the next invocation rebuilds it";
      absent_state_ = "stopped: function snapshot " + label_ + " " + why;
    } else if (idle_ttl_ms > 0 && prefork_pool_->in_flight() == 0 && unused_ms >= 0 &&
               static_cast<uint64_t>(unused_ms) >= idle_ttl_ms) {
      why = "evicted: not invoked for " + std::to_string(unused_ms / 1000) + " s";
      absent_state_ = kEvictedState;
    } else {
      return snapshot_;
    }
    dropped = std::move(snapshot_);
    dropped_pin = std::move(zygote_pin_);
  }
  log_line(LogLevel::kInfo, "function snapshot " + label_ + " " + why);
  dropped.reset();  // outside the lock: ends it, unless an invocation still holds it
  return nullptr;
}

bool FunctionVersion::has_live_snapshot() {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_ && snapshot_->alive();
}

agent::InitResult FunctionVersion::init_failure() {
  std::lock_guard lock(snapshot_mutex_);
  return init_failure_;
}

api::FunctionInfo FunctionVersion::describe() {
  api::FunctionInfo info = info_;
  std::shared_ptr<FunctionSnapshot> snapshot;
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot = snapshot_;
    if (!snapshot && !init_failure_.error_type().empty()) {
      info.set_state("failed: " + init_failure_.error_type() + ": " +
                     init_failure_.error_message());
    } else if (!snapshot && loading_) {
      info.set_state(kLoadingState);
    } else if (!snapshot) {
      info.set_state(absent_state_.empty() ? kNotLoadedState : absent_state_);
    }
  }
  if (snapshot && snapshot->alive()) {
    info.set_state("ready");
    info.set_idle_sandboxes(static_cast<uint32_t>(snapshot->idle_count()));
  } else if (snapshot) {
    info.set_state("stopped: function snapshot " + label_ + " " + snapshot->end_description() +
                   "; the next invocation rebuilds it");
  }
  return info;
}

}  // namespace sprout::supervisor
