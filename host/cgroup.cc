#include "host/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/file_io.h"

namespace sprout {
namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, sep)) parts.push_back(part);
  return parts;
}

bool contains(const std::string& list, const std::string& item) {
  for (const auto& part : split(list, ',')) {
    if (part == item) return true;
  }
  return false;
}

// "key value" lines, as in memory.events, memory.oom_control, cpu.stat.
uint64_t keyed_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  uint64_t v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

uint64_t number_in(const std::string& text) {
  try {
    return std::stoull(text);
  } catch (...) {
    return 0;
  }
}

struct MountEntry {
  std::string root, mount_point, fstype, super_options;
};

std::vector<MountEntry> cgroup_mounts() {
  std::vector<MountEntry> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount_point options [optional...] - fstype source super_options
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto left = split(line.substr(0, dash), ' ');
    auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    if (right[0] != "cgroup" && right[0] != "cgroup2") continue;
    mounts.push_back({left[3], left[4], right[0], right[2]});
  }
  return mounts;
}

std::string join_path(const std::string& mount, const std::string& root, const std::string& own) {
  // Inside a cgroup namespace the mount's root is a prefix of our path.
  std::string relative = own;
  if (root != "/" && relative.rfind(root, 0) == 0) relative = relative.substr(root.size());
  if (relative == "/") relative.clear();
  return mount + relative;
}

}  // namespace

std::string CgroupLayout::describe() const {
  if (version == CgroupVersion::kNone) return "no cgroup controllers";
  std::string out = version == CgroupVersion::kV2 ? "cgroup v2:" : "cgroup v1:";
  if (memory) out += " memory";
  if (pids) out += " pids";
  if (cpu) out += " cpu";
  if (cpuacct) out += " cpuacct";
  return out;
}

CgroupLayout discover_cgroup_layout() {
  CgroupLayout layout;
  std::ifstream in("/proc/self/cgroup");
  std::string line, v2_path;
  std::vector<std::pair<std::string, std::string>> v1_paths;  // controllers, path
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers.empty()) {
      v2_path = path;
    } else {
      v1_paths.emplace_back(controllers, path);
    }
  }
  auto mounts = cgroup_mounts();

  // v2 first, when it carries the controllers that matter.
  for (const auto& mount : mounts) {
    if (mount.fstype != "cgroup2" || v2_path.empty()) continue;
    std::string dir = join_path(mount.mount_point, mount.root, v2_path);
    std::ifstream controllers_file(dir + "/cgroup.controllers");
    std::string available;
    std::getline(controllers_file, available);
    auto names = split(available, ' ');
    auto has = [&](const char* c) {
      for (const auto& n : names)
        if (n == c) return true;
      return false;
    };
    if (has("memory") && has("pids")) {
      layout.version = CgroupVersion::kV2;
      layout.memory = true;
      layout.pids = true;
      layout.cpu = has("cpu");
      layout.cpuacct = layout.cpu;  // cpu.stat is always there
      layout.trees.push_back({"memory,pids,cpu", dir});
      return layout;
    }
  }

  // v1: one tree per controller we use.
  for (const char* wanted : {"memory", "pids", "cpu", "cpuacct"}) {
    for (const auto& [controllers, path] : v1_paths) {
      if (!contains(controllers, wanted)) continue;
      for (const auto& mount : mounts) {
        if (mount.fstype != "cgroup" || !contains(mount.super_options, wanted)) continue;
        bool known = false;
        for (const auto& tree : layout.trees) known |= tree.controllers == controllers;
        if (!known)
          layout.trees.push_back({controllers, join_path(mount.mount_point, mount.root, path)});
        std::string name = wanted;
        if (name == "memory") layout.memory = true;
        if (name == "pids") layout.pids = true;
        if (name == "cpu") layout.cpu = true;
        if (name == "cpuacct") layout.cpuacct = true;
        break;
      }
    }
  }
  if (!layout.trees.empty()) layout.version = CgroupVersion::kV1;
  return layout;
}

Result<void> write_cgroup_file(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return os_error("open", path);
  if (retry_eintr([&] { return ::write(fd.get(), value.data(), value.size()); }) < 0) {
    return os_error("write " + value + " to", path);
  }
  return {};
}

Result<std::string> read_cgroup_file(const std::string& path) { return read_whole_file(path); }

void remove_cgroup_tree(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* entry = readdir(d)) {
      if (entry->d_type == DT_DIR && entry->d_name[0] != '.') {
        remove_cgroup_tree(dir + "/" + entry->d_name);
      }
    }
    closedir(d);
  }
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    // Still populated: a crashed run's processes. Kill them and retry.
    if (auto procs = read_cgroup_file(dir + "/cgroup.procs")) {
      std::istringstream in(*procs);
      pid_t pid;
      while (in >> pid) ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

SandboxCgroup::SandboxCgroup(const CgroupLayout& layout, std::vector<std::string> dirs)
    : layout_(layout), dirs_(std::move(dirs)) {}

SandboxCgroup::~SandboxCgroup() = default;

Result<std::unique_ptr<SandboxCgroup>> SandboxCgroup::create(
    const CgroupLayout& layout, const std::vector<std::string>& parent_dirs,
    const std::string& name) {
  std::vector<std::string> dirs;
  for (const auto& parent : parent_dirs) {
    std::string dir = parent + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      for (const auto& made : dirs) ::rmdir(made.c_str());
      return os_error("create cgroup", dir);
    }
    dirs.push_back(dir);
  }
  auto cgroup = std::make_unique<SandboxCgroup>(layout, std::move(dirs));
  if (layout.version == CgroupVersion::kV2) {
    cgroup->dir_fd_.reset(::open(cgroup->dirs_[0].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup->dir_fd_) return os_error("open cgroup", cgroup->dirs_[0]);
  }
  return cgroup;
}

std::string SandboxCgroup::file_in(const char* controller, const char* file) const {
  for (size_t i = 0; i < layout_.trees.size(); ++i) {
    if (layout_.version == CgroupVersion::kV2 ||
        contains(layout_.trees[i].controllers, controller)) {
      return dirs_[i] + "/" + file;
    }
  }
  return {};
}

Result<std::string> SandboxCgroup::read_usage_file(const char* controller, const char* file) const {
  auto& fd = usage_fds_[file];
  if (!fd) {
    const std::string path = file_in(controller, file);
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return os_error("open", path);
  }
  // cgroup files are regenerated on every read from offset 0.
  char buffer[512];
  ssize_t n = retry_eintr([&] { return ::pread(fd.get(), buffer, sizeof buffer - 1, 0); });
  if (n < 0) return os_error("read", file_in(controller, file));
  return std::string(buffer, static_cast<size_t>(n));
}

Result<void> SandboxCgroup::apply_limits(const CgroupLimits& limits) {
  const bool v2 = layout_.version == CgroupVersion::kV2;
  if (layout_.memory && limits.memory_bytes) {
    std::string bytes = std::to_string(limits.memory_bytes);
    if (v2) {
      if (auto r = write_cgroup_file(file_in("memory", "memory.max"), bytes); !r) return r;
      // No swap: a sandbox at its limit is killed, not slowed to a crawl.
      (void)write_cgroup_file(file_in("memory", "memory.swap.max"), "0");
    } else {
      // memsw must stay >= the memory limit; write it in the order that keeps
      // that true whether the new limit is larger or smaller.
      std::string memsw = file_in("memory", "memory.memsw.limit_in_bytes");
      bool has_memsw = ::access(memsw.c_str(), F_OK) == 0;
      if (has_memsw) (void)write_cgroup_file(memsw, "-1");
      if (auto r = write_cgroup_file(file_in("memory", "memory.limit_in_bytes"), bytes); !r)
        return r;
      if (has_memsw) {
        if (auto r = write_cgroup_file(memsw, bytes); !r) return r;
      }
    }
  }
  if (layout_.pids && limits.pids) {
    if (auto r = write_cgroup_file(file_in("pids", "pids.max"), std::to_string(limits.pids)); !r)
      return r;
  }
  if (layout_.cpu && limits.cpu_millicores) {
    constexpr uint64_t kPeriodUs = 100000;
    uint64_t quota = kPeriodUs * limits.cpu_millicores / 1000;
    if (v2) {
      if (auto r = write_cgroup_file(file_in("cpu", "cpu.max"),
                                     std::to_string(quota) + " " + std::to_string(kPeriodUs));
          !r) {
        return r;
      }
    } else {
      if (auto r =
              write_cgroup_file(file_in("cpu", "cpu.cfs_period_us"), std::to_string(kPeriodUs));
          !r)
        return r;
      if (auto r = write_cgroup_file(file_in("cpu", "cpu.cfs_quota_us"), std::to_string(quota)); !r)
        return r;
    }
  }
  return {};
}

Result<void> SandboxCgroup::add_process(pid_t pid) {
  if (layout_.version == CgroupVersion::kV2) {
    return write_cgroup_file(dirs_[0] + "/cgroup.procs", std::to_string(pid));
  }
  for (const auto& dir : dirs_) {
    if (auto r = write_cgroup_file(dir + "/cgroup.procs", std::to_string(pid)); !r) return r;
  }
  return {};
}

Result<void> SandboxCgroup::reset_counters() {
  if (layout_.version == CgroupVersion::kV2) {
    auto events = read_cgroup_file(file_in("memory", "memory.events"));
    oom_baseline_ = events ? keyed_value(*events, "oom_kill") : 0;
    auto stat = read_cgroup_file(file_in("cpu", "cpu.stat"));
    cpu_baseline_us_ = stat ? keyed_value(*stat, "usage_usec") : 0;
    // Since Linux 6.12 a write to memory.peak starts a new peak for that open
    // file; older kernels refuse the write and report the leaf's lifetime peak.
    peak_fd_.reset(::open(file_in("memory", "memory.peak").c_str(), O_RDWR | O_CLOEXEC));
    if (peak_fd_ && ::write(peak_fd_.get(), "reset\n", 6) < 0) peak_fd_.reset();
    return {};
  }
  if (layout_.memory) {
    if (auto r = write_cgroup_file(file_in("memory", "memory.max_usage_in_bytes"), "0"); !r)
      return r;
    auto control = read_cgroup_file(file_in("memory", "memory.oom_control"));
    oom_baseline_ = control ? keyed_value(*control, "oom_kill") : 0;
  }
  if (layout_.cpuacct) {
    if (auto r = write_cgroup_file(file_in("cpuacct", "cpuacct.usage"), "0"); !r) return r;
  }
  return {};
}

CgroupUsage SandboxCgroup::read_usage() const {
  CgroupUsage usage;
  if (layout_.version == CgroupVersion::kV2) {
    if (auto events = read_usage_file("memory", "memory.events")) {
      usage.oom_kills = keyed_value(*events, "oom_kill") - oom_baseline_;
    }
    if (auto stat = read_usage_file("cpu", "cpu.stat")) {
      usage.cpu_time_us = keyed_value(*stat, "usage_usec") - cpu_baseline_us_;
      usage.cpu_known = true;
    }
    if (peak_fd_) {
      char buffer[32] = {};
      if (::pread(peak_fd_.get(), buffer, sizeof buffer - 1, 0) > 0)
        usage.peak_memory_bytes = number_in(buffer);
    } else if (auto peak = read_usage_file("memory", "memory.peak")) {
      usage.peak_memory_bytes = number_in(*peak);
    }
    return usage;
  }
  if (layout_.memory) {
    if (auto control = read_usage_file("memory", "memory.oom_control")) {
      usage.oom_kills = keyed_value(*control, "oom_kill") - oom_baseline_;
    }
    if (auto peak = read_usage_file("memory", "memory.max_usage_in_bytes")) {
      usage.peak_memory_bytes = number_in(*peak);
    }
  }
  if (layout_.cpuacct) {
    if (auto cpu = read_usage_file("cpuacct", "cpuacct.usage")) {
      usage.cpu_time_us = number_in(*cpu) / 1000;
      usage.cpu_known = true;
    }
  }
  return usage;
}

bool SandboxCgroup::is_empty() const {
  for (const auto& dir : dirs_) {
    auto procs = read_cgroup_file(dir + "/cgroup.procs");
    if (!procs || !procs->empty()) return false;
  }
  return true;
}

void SandboxCgroup::kill_all() const {
  if (layout_.version == CgroupVersion::kV2 &&
      write_cgroup_file(dirs_[0] + "/cgroup.kill", "1").has_value()) {
    return;
  }
  for (const auto& dir : dirs_) {
    if (auto procs = read_cgroup_file(dir + "/cgroup.procs")) {
      std::istringstream in(*procs);
      pid_t pid;
      while (in >> pid) ::kill(pid, SIGKILL);
    }
  }
}

Result<void> SandboxCgroup::remove() {
  dir_fd_.reset();
  peak_fd_.reset();
  for (const auto& dir : dirs_) remove_cgroup_tree(dir);
  for (const auto& dir : dirs_) {
    if (::access(dir.c_str(), F_OK) == 0) return os_error("remove cgroup", dir, EBUSY);
  }
  dirs_.clear();
  return {};
}

}  // namespace sprout
