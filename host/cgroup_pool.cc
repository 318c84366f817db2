#include "host/cgroup_pool.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "base/log.h"

namespace sprout {

CgroupLease& CgroupLease::operator=(CgroupLease&& other) noexcept {
  if (this != &other) {
    give_back();
    pool_ = other.pool_;
    cgroup_ = std::move(other.cgroup_);
  }
  return *this;
}

CgroupLease::~CgroupLease() { give_back(); }

void CgroupLease::give_back() {
  if (pool_ && cgroup_) pool_->give_back(std::move(cgroup_));
}

Result<std::unique_ptr<CgroupPool>> CgroupPool::create(CgroupPoolOptions options) {
  std::unique_ptr<CgroupPool> pool(new CgroupPool(std::move(options)));
  pool->layout_ = discover_cgroup_layout(pool->options_.host);
  const auto& layout = pool->layout_;
  if (!layout.memory || !layout.pids || !layout.cpu) {
    std::string missing;
    if (!layout.memory) missing += " memory";
    if (!layout.pids) missing += " pids";
    if (!layout.cpu) missing += " cpu";
    log_line(LogLevel::kWarning, "no cgroup controller for" + missing +
                                     ": rlimits are the only fence there (" + layout.describe() +
                                     ")");
  }
  pool->driver_ = CgroupDriver::for_layout(layout);
  if (!pool->driver_) return pool;

  pool->remove_stale_parents();
  const std::string name = pool->options_.prefix + "-" + std::to_string(getpid());
  for (const auto& tree : layout.trees) {
    std::string dir = tree.own_dir + "/" + name;
    if (layout.fs->make_dir(dir) != 0 && errno != EEXIST) {
      const int err = errno;
      for (const auto& made : pool->parent_dirs_) remove_cgroup_tree(made, *layout.fs);
      pool->parent_dirs_.clear();
      return os_error("create cgroup", dir, err);
    }
    pool->parent_dirs_.push_back(dir);
    pool->driver_->prepare_parent(tree, dir);
  }
  for (size_t i = 0; i < pool->options_.prewarm; ++i) {
    auto leaf = pool->create_leaf();
    if (!leaf) return std::unexpected(leaf.error());
    pool->idle_.push_back(std::move(*leaf));
  }
  return pool;
}

CgroupPool::~CgroupPool() {
  std::unique_lock lock(mutex_);
  if (!returned_.wait_for(lock, std::chrono::seconds(5), [this] { return leased_ == 0; })) {
    log_line(LogLevel::kWarning,
             std::to_string(leased_) + " cgroup leases still out at pool shutdown");
  }
  for (auto& leaf : idle_) (void)leaf->remove();
  idle_.clear();
  for (const auto& dir : parent_dirs_) remove_cgroup_tree(dir, *layout_.fs);
}

void CgroupPool::remove_stale_parents() const {
  const std::string prefix = options_.prefix + "-";
  for (const auto& tree : layout_.trees) {
    DIR* dir = opendir(tree.own_dir.c_str());
    if (!dir) continue;
    std::vector<std::string> stale;
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (entry->d_type != DT_DIR || name.rfind(prefix, 0) != 0) continue;
      std::string pid_text = name.substr(prefix.size());
      if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos)
        continue;
      pid_t pid = static_cast<pid_t>(std::stol(pid_text));
      if (::kill(pid, 0) == 0 || errno == EPERM) continue;  // its owner still runs
      stale.push_back(tree.own_dir + "/" + name);
    }
    closedir(dir);
    for (const auto& path : stale) {
      log_line(LogLevel::kInfo, "removing cgroup left by a crashed run: " + path);
      remove_cgroup_tree(path, *layout_.fs);
    }
  }
}

Result<std::unique_ptr<SandboxCgroup>> CgroupPool::create_leaf() {
  ++created_;
  return driver_->create_leaf(parent_dirs_, "sb-" + std::to_string(next_leaf_++));
}

Result<CgroupLease> CgroupPool::acquire(const CgroupLimits& limits) {
  if (!driver_) return CgroupLease{};
  std::unique_ptr<SandboxCgroup> leaf;
  {
    std::lock_guard lock(mutex_);
    ++leased_;
    if (!idle_.empty()) {
      leaf = std::move(idle_.back());
      idle_.pop_back();
    } else {
      auto created = create_leaf();
      if (!created) {
        --leased_;
        return std::unexpected(created.error());
      }
      leaf = std::move(*created);
    }
  }
  // From here the lease owns the leaf: any failure gives it back.
  CgroupLease lease(this, std::move(leaf));
  if (auto r = lease->apply_limits(limits); !r) return std::unexpected(r.error());
  if (auto r = lease->reset_counters(); !r) return std::unexpected(r.error());
  return lease;
}

void CgroupPool::give_back(std::unique_ptr<SandboxCgroup> cgroup) {
  // A leaf that still holds processes is never handed to another sandbox.
  const bool reusable = cgroup->is_empty();
  if (!reusable) cgroup->kill_all();
  {
    std::lock_guard lock(mutex_);
    if (reusable && idle_.size() < options_.max_idle) {
      idle_.push_back(std::move(cgroup));
      --leased_;
      returned_.notify_all();
      return;
    }
  }
  // Removed outside the lock: a leaf whose killed processes have not exited
  // yet makes remove() retry for up to half a second (remove_cgroup_tree),
  // and acquire() must not wait for that. The leaf still counts as leased
  // until it is gone, so that the destructor waits for it.
  (void)cgroup->remove();
  std::lock_guard lock(mutex_);
  --leased_;
  returned_.notify_all();
}

size_t CgroupPool::idle_count() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

size_t CgroupPool::created_count() const {
  std::lock_guard lock(mutex_);
  return created_;
}

}  // namespace sprout
