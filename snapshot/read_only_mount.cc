#include "snapshot/read_only_mount.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <set>
#include <string_view>

#include "sandbox/mount_plan.h"

namespace sprout {
namespace {

// Not in <linux/magic.h> of Debian 12's headers.
constexpr long kFuseControlMagic = 0x65735543;
constexpr long kConfigfsMagic = 0x62656570;

// File systems whose contents are the kernel's view of the host (processes,
// devices, cgroups, security settings), never a directory of objects.
constexpr long kRefusedFileSystems[] = {
    PROC_SUPER_MAGIC, SYSFS_MAGIC,     CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, DEBUGFS_MAGIC,
    TRACEFS_MAGIC,    SECURITYFS_MAGIC, SELINUX_MAGIC,     SMACK_MAGIC,         BPF_FS_MAGIC,
    NSFS_MAGIC,       PSTOREFS_MAGIC,  EFIVARFS_MAGIC,     BINFMTFS_MAGIC,      DEVPTS_SUPER_MAGIC,
    kFuseControlMagic, kConfigfsMagic,
};

// The host trees that hold devices and the kernel's own files, refused by
// path too: /dev is a tmpfs (nodev would only keep its nodes from working).
constexpr std::string_view kRefusedTrees[] = {"/proc", "/sys", "/dev"};

bool is_canonical_absolute(std::string_view path) {
  if (path.size() < 2 || path.size() >= PATH_MAX || path.front() != '/' || path.back() == '/')
    return false;
  if (path.find('\0') != std::string_view::npos) return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    if (component.empty() || component == "." || component == "..") return false;
    start = end + 1;
  }
  return true;
}

bool is_under(std::string_view path, std::string_view tree) {
  return path == tree || (path.size() > tree.size() && path.starts_with(tree) &&
                          path[tree.size()] == '/');
}

}  // namespace

Result<void> validate_read_only_mount(const ReadOnlyMount& mount) {
  if (!is_read_only_mount_name(mount.name)) {
    return plain_error("read-only mount",
                       "name \"" + mount.name +
                           "\" is not a bucket name (3 to 63 of a-z, 0-9, '.', '-', beginning "
                           "and ending with a letter or digit)");
  }
  if (!is_canonical_absolute(mount.host_dir)) {
    return plain_error("read-only mount " + mount.name,
                       "host directory \"" + mount.host_dir +
                           "\" is not an absolute, canonical path other than /");
  }
  for (std::string_view tree : kRefusedTrees) {
    if (is_under(mount.host_dir, tree)) {
      return plain_error("read-only mount " + mount.name,
                         "host directory " + mount.host_dir + " is under " + std::string(tree));
    }
  }
  return {};
}

Result<void> validate_read_only_mounts(std::span<const ReadOnlyMount> mounts) {
  if (mounts.size() > kMaxReadOnlyMounts) {
    return plain_error("read-only mounts", std::to_string(mounts.size()) + " given, at most " +
                                               std::to_string(kMaxReadOnlyMounts));
  }
  std::set<std::string_view> names;
  for (const ReadOnlyMount& mount : mounts) {
    if (auto valid = validate_read_only_mount(mount); !valid) return valid;
    if (!names.insert(mount.name).second)
      return plain_error("read-only mounts", "the name " + mount.name + " is given twice");
  }
  return {};
}

Result<UniqueFd> detach_read_only_tree(const ReadOnlyMount& mount) {
  if (auto valid = validate_read_only_mount(mount); !valid) return std::unexpected(valid.error());
  const std::string what = "read-only mount " + mount.name;
  // No symbolic link in any component, the last included (ELOOP; O_NOFOLLOW
  // would open a last-component link itself instead), magic links included:
  // with a canonical path, what is opened is the directory at exactly that
  // path, whoever may write to its parents.
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd dir(static_cast<int>(
      syscall(SYS_openat2, AT_FDCWD, mount.host_dir.c_str(), &how, sizeof how)));
  if (!dir) {
    if (errno == ELOOP) {
      return plain_error(what, "host directory " + mount.host_dir +
                                   " has a symbolic link in its path (give the canonical path)");
    }
    return os_error("open " + what + " host directory", mount.host_dir);
  }
  struct statfs fs;
  if (fstatfs(dir.get(), &fs) != 0) return os_error("statfs", mount.host_dir);
  for (long refused : kRefusedFileSystems) {
    if (static_cast<long>(fs.f_type) == refused) {
      return plain_error(what, "host directory " + mount.host_dir +
                                   " is on a kernel pseudo file system");
    }
  }
  // This mount only: mounts beneath the directory are not exposed (their
  // mount points show as the directories of this file system they cover).
  UniqueFd tree(open_tree(dir.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (!tree) return os_error("open_tree (clone) " + what, mount.host_dir);
  // Private: the clone would otherwise stay in the peer group of a shared
  // host mount, and mount events would cross between the host and the
  // function's namespaces.
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  attr.propagation = MS_PRIVATE;
  if (mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
    return os_error("mount_setattr (read-only, private) " + what, mount.host_dir);
  return tree;
}

}  // namespace sprout
