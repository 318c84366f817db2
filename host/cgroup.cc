// The part of a leaf that both drivers share, and the choice of a driver.
#include "host/cgroup.h"

#include <fcntl.h>
#include <unistd.h>

namespace sprout {

SandboxCgroup::SandboxCgroup(const CgroupLayout& layout, std::vector<std::string> dirs)
    : layout_(layout), dirs_(std::move(dirs)) {}

SandboxCgroup::~SandboxCgroup() = default;

Result<std::unique_ptr<SandboxCgroup>> SandboxCgroup::create(
    const CgroupLayout& layout, const std::vector<std::string>& parent_dirs,
    const std::string& name) {
  auto driver = CgroupDriver::for_layout(layout);
  if (!driver) return plain_error("create cgroup " + name, "no cgroup controllers");
  return driver->create_leaf(parent_dirs, name);
}

std::unique_ptr<CgroupDriver> CgroupDriver::for_layout(const CgroupLayout& layout) {
  switch (layout.version) {
    case CgroupVersion::kV1:
      return make_cgroup_v1_driver(layout);
    case CgroupVersion::kV2:
      return make_cgroup_v2_driver(layout);
    case CgroupVersion::kNone:
      break;
  }
  return nullptr;
}

Result<std::string> SandboxCgroup::read_usage_file(const std::string& dir, const char* file) const {
  auto& fd = usage_fds_[file];
  if (!fd) {
    const std::string path = dir + "/" + file;
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return os_error("open", path);
  }
  // cgroup files are regenerated on every read from offset 0.
  char buffer[512];
  ssize_t n = retry_eintr([&] { return ::pread(fd.get(), buffer, sizeof buffer - 1, 0); });
  if (n < 0) return os_error("read", dir + "/" + file);
  return std::string(buffer, static_cast<size_t>(n));
}

bool SandboxCgroup::is_empty() const {
  for (const auto& dir : dirs_) {
    auto procs = read_cgroup_file(dir + "/cgroup.procs");
    if (!procs || !procs->empty()) return false;
  }
  return true;
}

void SandboxCgroup::kill_all() const {
  for (const auto& dir : dirs_) kill_cgroup_procs(dir);
}

Result<void> SandboxCgroup::remove() {
  for (const auto& dir : dirs_) remove_cgroup_tree(dir, *layout_.fs);
  for (const auto& dir : dirs_) {
    if (::access(dir.c_str(), F_OK) == 0) return os_error("remove cgroup", dir, EBUSY);
  }
  dirs_.clear();
  return {};
}

}  // namespace sprout
