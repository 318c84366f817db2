#include "sandbox/id_map.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "base/unique_fd.h"

namespace sprout {
namespace {

constexpr uid_t kNobody = 65534;

Result<void> write_proc_file(pid_t pid, const char* name, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return os_error("open", path);
  if (retry_eintr([&] { return ::write(fd.get(), text.data(), text.size()); }) !=
      static_cast<ssize_t>(text.size())) {
    return os_error("write", path);
  }
  return {};
}

// Root of the initial user namespace may map any id. Root of a nested user
// namespace (a function snapshot) is, for id maps, an unprivileged process.
bool is_root_of_initial_user_namespace() {
  if (geteuid() != 0) return false;
  UniqueFd fd(::open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC));
  char text[128] = {};
  if (!fd || ::read(fd.get(), text, sizeof text - 1) <= 0) return false;
  unsigned long inside = 1, outside = 1, count = 0;
  if (sscanf(text, "%lu %lu %lu", &inside, &outside, &count) != 3) return false;
  return inside == 0 && outside == 0 && count == 4294967295ul;
}

}  // namespace

IdMaps plan_id_maps(uid_t requested_uid, gid_t requested_gid) {
  IdMaps maps{};
  maps.spawner_is_root = is_root_of_initial_user_namespace();
  if (maps.spawner_is_root) {
    // Never map the sandbox onto host root: that would make its files and
    // signals host root's.
    maps.outer_uid = requested_uid != 0 ? requested_uid : kNobody;
    maps.outer_gid = requested_gid != 0 ? requested_gid : kNobody;
  } else {
    maps.outer_uid = geteuid();  // an unprivileged process can map only itself
    maps.outer_gid = getegid();
  }
  maps.uid_map = "0 " + std::to_string(maps.outer_uid) + " 1\n";
  maps.gid_map = "0 " + std::to_string(maps.outer_gid) + " 1\n";
  return maps;
}

Result<void> write_id_maps(pid_t child, const IdMaps& maps) {
  if (auto r = write_proc_file(child, "uid_map", maps.uid_map); !r) return r;
  if (!maps.spawner_is_root) {
    // Required before an unprivileged gid_map write (CVE-2014-8989).
    if (auto r = write_proc_file(child, "setgroups", "deny"); !r) return r;
  }
  return write_proc_file(child, "gid_map", maps.gid_map);
}

}  // namespace sprout
