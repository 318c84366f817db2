// The cgroup v2 driver: one unified tree; sandboxes enter their leaf at clone
// time with CLONE_INTO_CGROUP (the leaf's directory fd).
#include <fcntl.h>
#include <unistd.h>

#include "base/log.h"
#include "host/cgroup.h"
#include "host/cgroup_v2_delegation.h"

namespace sprout {
namespace {

constexpr char kControllers[] = "+memory +pids +cpu";

class CgroupV2Leaf final : public SandboxCgroup {
 public:
  CgroupV2Leaf(const CgroupLayout& layout, std::vector<std::string> dirs, UniqueFd dir_fd)
      : SandboxCgroup(layout, std::move(dirs)), dir_fd_(std::move(dir_fd)) {}

  Result<void> apply_limits(const CgroupLimits& limits) override;
  int clone_into_fd() const override { return dir_fd_.get(); }
  Result<void> add_process(pid_t pid) override;
  Result<void> reset_counters() override;
  CgroupUsage read_usage() const override;
  void kill_all() const override;
  Result<void> remove() override;

 private:
  std::string file(const char* name) const { return dirs_[0] + "/" + name; }

  UniqueFd dir_fd_;
  UniqueFd peak_fd_;  // memory.peak opened and reset per period
};

Result<void> CgroupV2Leaf::apply_limits(const CgroupLimits& limits) {
  if (layout_.memory && limits.memory_bytes) {
    if (auto r = write_cgroup_file(file("memory.max"), std::to_string(limits.memory_bytes)); !r)
      return r;
    // No swap: a sandbox at its limit is killed, not slowed to a crawl.
    (void)write_cgroup_file(file("memory.swap.max"), "0");
  }
  if (layout_.pids && limits.pids) {
    if (auto r = write_cgroup_file(file("pids.max"), std::to_string(limits.pids)); !r) return r;
  }
  if (layout_.cpu && limits.cpu_millicores) {
    constexpr uint64_t kPeriodUs = 100000;
    uint64_t quota = kPeriodUs * limits.cpu_millicores / 1000;
    if (auto r = write_cgroup_file(file("cpu.max"),
                                   std::to_string(quota) + " " + std::to_string(kPeriodUs));
        !r) {
      return r;
    }
  }
  return {};
}

Result<void> CgroupV2Leaf::add_process(pid_t pid) {
  return write_cgroup_file(file("cgroup.procs"), std::to_string(pid));
}

Result<void> CgroupV2Leaf::reset_counters() {
  auto events = read_cgroup_file(file("memory.events"));
  oom_baseline_ = events ? cgroup_keyed_value(*events, "oom_kill") : 0;
  auto stat = read_cgroup_file(file("cpu.stat"));
  cpu_baseline_us_ = stat ? cgroup_keyed_value(*stat, "usage_usec") : 0;
  // Since Linux 6.12 a write to memory.peak starts a new peak for that open
  // file; older kernels refuse the write and report the leaf's lifetime peak.
  peak_fd_.reset(::open(file("memory.peak").c_str(), O_RDWR | O_CLOEXEC));
  if (peak_fd_ && ::write(peak_fd_.get(), "reset\n", 6) < 0) peak_fd_.reset();
  return {};
}

CgroupUsage CgroupV2Leaf::read_usage() const {
  CgroupUsage usage;
  if (auto events = read_usage_file(dirs_[0], "memory.events")) {
    usage.oom_kills = cgroup_keyed_value(*events, "oom_kill") - oom_baseline_;
  }
  if (auto stat = read_usage_file(dirs_[0], "cpu.stat")) {
    usage.cpu_time_us = cgroup_keyed_value(*stat, "usage_usec") - cpu_baseline_us_;
    usage.cpu_known = true;
  }
  if (peak_fd_) {
    char buffer[32] = {};
    if (::pread(peak_fd_.get(), buffer, sizeof buffer - 1, 0) > 0)
      usage.peak_memory_bytes = cgroup_number(buffer);
  } else if (auto peak = read_usage_file(dirs_[0], "memory.peak")) {
    usage.peak_memory_bytes = cgroup_number(*peak);
  }
  return usage;
}

void CgroupV2Leaf::kill_all() const {
  // cgroup.kill (Linux 5.14+) kills the whole leaf at once, racing no fork;
  // without it, the pids listed in cgroup.procs.
  if (write_cgroup_file(file("cgroup.kill"), "1").has_value()) return;
  SandboxCgroup::kill_all();
}

Result<void> CgroupV2Leaf::remove() {
  dir_fd_.reset();
  peak_fd_.reset();
  return SandboxCgroup::remove();
}

class CgroupV2Driver final : public CgroupDriver {
 public:
  explicit CgroupV2Driver(const CgroupLayout& layout) : layout_(layout) {}

  void prepare_parent(const CgroupLayout::Tree& tree, const std::string& dir) const override {
    // Leaves need the controllers delegated down from our own cgroup, which
    // holds sproutd itself (cgroup_v2_delegation.h).
    if (auto r = enable_controllers_for_children(tree.own_dir, kControllers, kSupervisorLeaf,
                                                 *layout_.fs);
        !r) {
      log_line(LogLevel::kError, "enable cgroup v2 controllers for sandboxes: " +
                                     r.error().message() +
                                     " (their memory, pids and cpu limits cannot be set)");
    }
    if (auto r = layout_.fs->write_file(dir + "/cgroup.subtree_control", kControllers); !r) {
      log_line(LogLevel::kError, "enable cgroup v2 controllers in " + dir + ": " +
                                     r.error().message());
    }
  }

  Result<std::unique_ptr<SandboxCgroup>> create_leaf(const std::vector<std::string>& parent_dirs,
                                                     const std::string& name) const override {
    auto dirs = make_cgroup_dirs(*layout_.fs, parent_dirs, name);
    if (!dirs) return std::unexpected(dirs.error());
    UniqueFd dir_fd(::open((*dirs)[0].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return os_error("open cgroup", (*dirs)[0]);
    return std::make_unique<CgroupV2Leaf>(layout_, std::move(*dirs), std::move(dir_fd));
  }

 private:
  const CgroupLayout& layout_;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v2_driver(const CgroupLayout& layout) {
  return std::make_unique<CgroupV2Driver>(layout);
}

}  // namespace sprout
