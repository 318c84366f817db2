#include "supervisor/zygote_table.h"

#include <atomic>

#include "base/log.h"

namespace sprout::supervisor {
namespace {

std::string describe(const RuntimeZygote& zygote) {
  return std::string("runtime zygote ") + runtime_kind_name(zygote.runtime()) + " of tenant " +
         zygote.tenant() + " (pid " + std::to_string(zygote.pid()) + ", uid " +
         std::to_string(zygote.uid()) + ")";
}

}  // namespace

struct ZygoteTable::Entry {
  explicit Entry(Key key) : key(std::move(key)) {}

  const Key key;
  // Changed by pin() under the table's mutex; Pin::release() only lowers it,
  // so a zero read under the table's mutex stays zero until it is released.
  std::atomic<uint32_t> pins{0};
  // One start at a time; taken without the table's mutex, which a start
  // (tens of milliseconds, up to the ready timeout) must never hold.
  std::mutex start_mutex;
  std::shared_ptr<RuntimeZygote> zygote;  // guarded by ZygoteTable::mutex_
};

ZygoteTable::Pin& ZygoteTable::Pin::operator=(Pin&& other) noexcept {
  if (this != &other) {
    release();
    entry_ = std::move(other.entry_);
  }
  return *this;
}

void ZygoteTable::Pin::release() {
  if (!entry_) return;
  entry_->pins.fetch_sub(1);
  entry_.reset();
}

ZygoteTable::ZygoteTable(Settings settings) : settings_(std::move(settings)) {}

ZygoteTable::~ZygoteTable() {
  std::vector<std::shared_ptr<RuntimeZygote>> zygotes;
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, entry] : entries_) {
      if (entry->zygote) zygotes.push_back(std::move(entry->zygote));
    }
    entries_.clear();
  }
  zygotes.clear();  // each one shuts its zygote down and reaps it
}

ZygoteTable::Pin ZygoteTable::pin(const Key& key) {
  std::lock_guard lock(mutex_);
  auto& entry = entries_[key];
  if (!entry) entry = std::make_shared<Entry>(key);
  ++entry->pins;
  return Pin(entry);
}

Result<HostIdLease> ZygoteTable::lease() {
  if (!settings_.host_ids) return HostIdLease();  // sproutd's own ids
  return settings_.host_ids->acquire();
}

Result<std::shared_ptr<RuntimeZygote>> ZygoteTable::running_zygote(Entry& entry) {
  {
    std::lock_guard lock(mutex_);
    if (entry.zygote && entry.zygote->alive()) return entry.zygote;
  }
  std::lock_guard starting(entry.start_mutex);
  std::shared_ptr<RuntimeZygote> dead;
  {
    std::lock_guard lock(mutex_);
    // Another load may have started it while we waited.
    if (entry.zygote && entry.zygote->alive()) return entry.zygote;
    dead = std::move(entry.zygote);
  }
  if (dead) {
    log_line(LogLevel::kWarning,
             describe(*dead) + " " + dead->end_description() + "; starting a new one");
    dead.reset();  // reaped: its host id goes back to the range
  }
  const std::string runtime = runtime_kind_name(entry.key.runtime);
  const std::string what = "start " + runtime + " zygote of tenant " + entry.key.tenant;
  auto ids = lease();
  if (!ids) return plain_error(what, ids.error().message());
  ZygoteOptions options;
  options.runtime = entry.key.runtime;
  options.agent_path = settings_.agent_path;
  options.tenant = entry.key.tenant;
  options.ids = std::move(*ids);
  if (entry.key.runtime == agent::PYTHON3) options.pre_imports = settings_.python_pre_imports;
  Result<std::unique_ptr<RuntimeZygote>> started = plain_error(what, "not run");
  launcher_.run([&] { started = RuntimeZygote::start(std::move(options)); });
  if (!started) return std::unexpected(started.error());
  std::shared_ptr<RuntimeZygote> zygote = std::move(*started);
  log_line(LogLevel::kInfo, describe(*zygote) + " ready (init " +
                                std::to_string(zygote->init_duration_us() / 1000) + " ms)");
  std::lock_guard lock(mutex_);
  entry.zygote = zygote;
  return zygote;
}

Result<LoadOutcome> ZygoteTable::load(const Pin& pin, const FunctionDefinition& definition,
                                      CgroupPool* cgroups) {
  if (!pin) return plain_error("load " + definition.name, "no zygote pinned");
  for (int attempt = 0;; ++attempt) {
    auto zygote = running_zygote(*pin.entry_);
    if (!zygote) return std::unexpected(zygote.error());
    // A fresh id for every snapshot; the snapshot keeps it until every
    // process of it has ended.
    auto ids = lease();
    if (!ids) return plain_error("load " + definition.name, ids.error().message());
    auto loaded = (*zygote)->load(definition, cgroups, std::move(*ids));
    // A zygote that died under the load gets one retry with a fresh one.
    if (loaded || attempt > 0 || (*zygote)->alive()) return loaded;
  }
}

size_t ZygoteTable::stop_unpinned() {
  std::vector<std::shared_ptr<RuntimeZygote>> stopping;
  {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second->pins.load() != 0) {
        ++it;
        continue;
      }
      if (it->second->zygote) stopping.push_back(std::move(it->second->zygote));
      it = entries_.erase(it);
    }
  }
  // Outside the lock: a zygote's shutdown waits for its exit.
  for (auto& zygote : stopping) {
    log_line(LogLevel::kInfo, "stopping " + describe(*zygote) + ": no snapshot of it is left");
    zygote.reset();
  }
  return stopping.size();
}

size_t ZygoteTable::reap_dead() {
  std::vector<std::shared_ptr<RuntimeZygote>> dead;
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, entry] : entries_)
      if (entry->zygote && !entry->zygote->alive()) dead.push_back(std::move(entry->zygote));
  }
  // Outside the lock: reaping waits for the process. A load that holds the
  // zygote keeps it until it is done with it.
  for (auto& zygote : dead) {
    log_line(LogLevel::kWarning,
             describe(*zygote) + " " + zygote->end_description() +
                 "; reaped (the next load starts a new one)");
    zygote.reset();
  }
  return dead.size();
}

size_t ZygoteTable::live_zygotes() {
  std::lock_guard lock(mutex_);
  size_t live = 0;
  for (const auto& [key, entry] : entries_) live += entry->zygote && entry->zygote->alive();
  return live;
}

size_t ZygoteTable::host_ids_in_use() {
  return settings_.host_ids ? settings_.host_ids->in_use() : 0;
}

}  // namespace sprout::supervisor
