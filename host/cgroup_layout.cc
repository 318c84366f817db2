#include "host/cgroup_layout.h"

#include <fstream>
#include <sstream>

namespace sprout {
namespace {

constexpr char kCgroupfsMount[] = "/sys/fs/cgroup";

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, sep)) parts.push_back(part);
  return parts;
}

struct MountEntry {
  std::string root, mount_point, fstype, super_options;
};

// A mount point under /sys/fs/cgroup, as seen through host.cgroupfs_root.
std::string rebase(const CgroupHost& host, const std::string& mount_point) {
  const std::string base = kCgroupfsMount;
  if (mount_point.rfind(base, 0) != 0) return mount_point;
  if (mount_point.size() > base.size() && mount_point[base.size()] != '/') return mount_point;
  return host.cgroupfs_root + mount_point.substr(base.size());
}

std::vector<MountEntry> cgroup_mounts(const CgroupHost& host) {
  std::vector<MountEntry> mounts;
  std::ifstream in(host.proc_self_mountinfo);
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount_point options [optional...] - fstype source super_options
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto left = split(line.substr(0, dash), ' ');
    auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    if (right[0] != "cgroup" && right[0] != "cgroup2") continue;
    mounts.push_back({left[3], rebase(host, left[4]), right[0], right[2]});
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

CgroupLayout discover_cgroup_layout(const CgroupHost& host) {
  CgroupLayout layout;
  layout.fs = host.fs;
  std::ifstream in(host.proc_self_cgroup);
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
  auto mounts = cgroup_mounts(host);

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
      if (!cgroup_list_contains(controllers, wanted)) continue;
      for (const auto& mount : mounts) {
        if (mount.fstype != "cgroup" || !cgroup_list_contains(mount.super_options, wanted))
          continue;
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

}  // namespace sprout
