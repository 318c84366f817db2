// The cgroup v1 driver: one tree per controller (memory, pids, cpu,
// cpuacct), each leaf a directory in every tree. The spawner writes the
// child's pid into each leaf before letting it run.
#include <unistd.h>

#include "host/cgroup.h"

namespace sprout {
namespace {

class CgroupV1Leaf final : public SandboxCgroup {
 public:
  CgroupV1Leaf(const CgroupLayout& layout, std::vector<std::string> dirs)
      : SandboxCgroup(layout, std::move(dirs)),
        memory_dir_(dir_of("memory")),
        pids_dir_(dir_of("pids")),
        cpu_dir_(dir_of("cpu")),
        cpuacct_dir_(dir_of("cpuacct")) {}

  Result<void> apply_limits(const CgroupLimits& limits) override;
  Result<void> add_process(pid_t pid) override;
  Result<void> reset_counters() override;
  CgroupUsage read_usage() const override;

 private:
  // The leaf's directory in the tree that carries `controller`.
  std::string dir_of(const char* controller) const {
    for (size_t i = 0; i < layout_.trees.size() && i < dirs_.size(); ++i) {
      if (cgroup_list_contains(layout_.trees[i].controllers, controller)) return dirs_[i];
    }
    return {};
  }

  const std::string memory_dir_, pids_dir_, cpu_dir_, cpuacct_dir_;
};

Result<void> CgroupV1Leaf::apply_limits(const CgroupLimits& limits) {
  if (layout_.memory && limits.memory_bytes) {
    std::string bytes = std::to_string(limits.memory_bytes);
    // memsw must stay >= the memory limit; write it in the order that keeps
    // that true whether the new limit is larger or smaller.
    std::string memsw = memory_dir_ + "/memory.memsw.limit_in_bytes";
    bool has_memsw = ::access(memsw.c_str(), F_OK) == 0;
    if (has_memsw) (void)write_cgroup_file(memsw, "-1");
    if (auto r = write_cgroup_file(memory_dir_ + "/memory.limit_in_bytes", bytes); !r) return r;
    if (has_memsw) {
      if (auto r = write_cgroup_file(memsw, bytes); !r) return r;
    }
  }
  if (layout_.pids && limits.pids) {
    if (auto r = write_cgroup_file(pids_dir_ + "/pids.max", std::to_string(limits.pids)); !r)
      return r;
  }
  if (layout_.cpu && limits.cpu_millicores) {
    constexpr uint64_t kPeriodUs = 100000;
    uint64_t quota = kPeriodUs * limits.cpu_millicores / 1000;
    if (auto r = write_cgroup_file(cpu_dir_ + "/cpu.cfs_period_us", std::to_string(kPeriodUs)); !r)
      return r;
    if (auto r = write_cgroup_file(cpu_dir_ + "/cpu.cfs_quota_us", std::to_string(quota)); !r)
      return r;
  }
  return {};
}

Result<void> CgroupV1Leaf::add_process(pid_t pid) {
  for (const auto& dir : dirs_) {
    if (auto r = write_cgroup_file(dir + "/cgroup.procs", std::to_string(pid)); !r) return r;
  }
  return {};
}

Result<void> CgroupV1Leaf::reset_counters() {
  if (layout_.memory) {
    if (auto r = write_cgroup_file(memory_dir_ + "/memory.max_usage_in_bytes", "0"); !r) return r;
    auto control = read_cgroup_file(memory_dir_ + "/memory.oom_control");
    oom_baseline_ = control ? cgroup_keyed_value(*control, "oom_kill") : 0;
  }
  if (layout_.cpuacct) {
    if (auto r = write_cgroup_file(cpuacct_dir_ + "/cpuacct.usage", "0"); !r) return r;
  }
  return {};
}

CgroupUsage CgroupV1Leaf::read_usage() const {
  CgroupUsage usage;
  if (layout_.memory) {
    if (auto control = read_usage_file(memory_dir_, "memory.oom_control")) {
      usage.oom_kills = cgroup_keyed_value(*control, "oom_kill") - oom_baseline_;
    }
    if (auto peak = read_usage_file(memory_dir_, "memory.max_usage_in_bytes")) {
      usage.peak_memory_bytes = cgroup_number(*peak);
    }
  }
  if (layout_.cpuacct) {
    if (auto cpu = read_usage_file(cpuacct_dir_, "cpuacct.usage")) {
      usage.cpu_time_us = cgroup_number(*cpu) / 1000;
      usage.cpu_known = true;
    }
  }
  return usage;
}

class CgroupV1Driver final : public CgroupDriver {
 public:
  explicit CgroupV1Driver(const CgroupLayout& layout) : layout_(layout) {}

  // Every v1 controller is available in every directory: nothing to delegate.
  void prepare_parent(const CgroupLayout::Tree&, const std::string&) const override {}

  Result<std::unique_ptr<SandboxCgroup>> create_leaf(const std::vector<std::string>& parent_dirs,
                                                     const std::string& name) const override {
    auto dirs = make_cgroup_dirs(*layout_.fs, parent_dirs, name);
    if (!dirs) return std::unexpected(dirs.error());
    return std::make_unique<CgroupV1Leaf>(layout_, std::move(*dirs));
  }

 private:
  const CgroupLayout& layout_;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v1_driver(const CgroupLayout& layout) {
  return std::make_unique<CgroupV1Driver>(layout);
}

}  // namespace sprout
