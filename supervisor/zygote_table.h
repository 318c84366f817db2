// The runtime zygotes of sproutd: one per (tenant, runtime), never shared by
// two tenants, started on demand and stopped when nothing needs them. Every
// zygote and every function snapshot forked from one runs as a host id of its
// own, leased from the configured range. Thread-safe.
//
//   auto pin = zygotes.pin({"acme", agent::PYTHON3});
//   auto loaded = zygotes.load(pin, definition, cgroups);  // starts the zygote if needed
//   version.snapshot = loaded->snapshot; version.pin = std::move(pin);
//   ...
//   zygotes.stop_unpinned();  // later: zygotes nothing pins any more
#pragma once

#include <compare>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host/cgroup_pool.h"
#include "base/errors.h"
#include "snapshot/host_ids.h"
#include "snapshot/runtime_zygote.h"
#include "supervisor/thread_pool.h"

namespace sprout::supervisor {

class ZygoteTable {
 public:
  struct Key {
    std::string tenant;  // effective tenant (see effective_tenant())
    agent::RuntimeKind runtime = agent::RUNTIME_UNSPECIFIED;
    auto operator<=>(const Key&) const = default;
  };

  struct Settings {
    std::string agent_path;
    std::vector<std::string> python_pre_imports;  // imported in every python3 zygote
    // Host ids for zygotes and snapshots. Empty when sproutd is not root: it
    // cannot switch ids, and everything runs as sproutd's own.
    std::optional<HostIdRange> host_ids;
  };

 private:
  struct Entry;

 public:
  // Keeps the zygote of one key from being stopped for as long as it lives.
  // Held by every load in progress and by every function version that holds
  // a snapshot forked from that zygote. Move-only.
  class Pin {
   public:
    Pin() = default;
    Pin(Pin&& other) noexcept = default;
    Pin& operator=(Pin&& other) noexcept;
    ~Pin() { release(); }
    explicit operator bool() const { return entry_ != nullptr; }

   private:
    friend class ZygoteTable;
    explicit Pin(std::shared_ptr<Entry> entry) : entry_(std::move(entry)) {}
    void release();
    std::shared_ptr<Entry> entry_;
  };

  explicit ZygoteTable(Settings settings);
  ~ZygoteTable();  // stops every zygote; pins must be gone

  Pin pin(const Key& key);

  // Forks a function snapshot of `definition` from the pinned zygote, as a
  // fresh host id of its own, and runs its init. Starts the zygote if it is
  // not running, and once more if it dies during the load. Errors are
  // sprout's; init failures come back inside LoadOutcome.
  Result<LoadOutcome> load(const Pin& pin, const FunctionDefinition& definition,
                           CgroupPool* cgroups);

  // Stops the zygotes that no pin holds; returns how many.
  size_t stop_unpinned();
  // Reaps the zygotes that died (killed from outside, crashed), so that no
  // zombie waits for its tenant's next load and its host id goes back to
  // the range; the next load starts a new one. Returns how many.
  size_t reap_dead();

  size_t live_zygotes();
  size_t host_ids_in_use();

 private:
  // The entry's zygote, started (on the launcher thread) if it is not alive.
  Result<std::shared_ptr<RuntimeZygote>> running_zygote(Entry& entry);
  Result<HostIdLease> lease();

  Settings settings_;
  // PR_SET_PDEATHSIG ties every zygote to the thread that forked it: they are
  // all forked from this one, which lives as long as the table.
  LauncherThread launcher_;
  std::mutex mutex_;  // guards entries_ and every Entry::zygote
  std::map<Key, std::shared_ptr<Entry>> entries_;
};

}  // namespace sprout::supervisor
