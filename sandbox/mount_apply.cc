// Child side: async-signal-safe, fixed buffers only, raw mount calls.
#include "sandbox/mount_apply.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sprout {
namespace {

using Kind = MountStep::Kind;

// mkdir -p for `path`; with `last_is_file`, the last component is created as
// an empty file (a mount point for a file bind).
int make_path(const char* path, bool last_is_file) {
  char buffer[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof buffer) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buffer, path, len + 1);
  for (size_t i = 1; i <= len; ++i) {
    if (buffer[i] != '/' && buffer[i] != '\0') continue;
    char saved = buffer[i];
    buffer[i] = '\0';
    bool last = i == len;
    if (last && last_is_file) {
      int fd = open(buffer, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (fd < 0 && errno != EEXIST) return -1;
      if (fd >= 0) close(fd);
    } else if (mkdir(buffer, 0755) != 0 && errno != EEXIST) {
      return -1;
    }
    buffer[i] = saved;
  }
  return 0;
}

// Flags that the kernel locks on a mount owned by a more privileged user
// namespace; a read-only remount that omitted them would fail with EPERM.
unsigned long locked_flags(const char* path) {
  struct statvfs info;
  if (statvfs(path, &info) != 0) return 0;
  unsigned long flags = 0;
  if (info.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (info.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  if (info.f_flag & ST_RDONLY) flags |= MS_RDONLY;
  return flags;
}

int pivot_root(const char* new_root, const char* put_old) {
  return static_cast<int>(syscall(SYS_pivot_root, new_root, put_old));
}

// A recursive bind of `step.source` at `step.target`, then remounted with
// `extra_flags` (plus the flags the kernel keeps locked).
int bind_mount(const MountStep& step, unsigned long extra_flags) {
  struct stat st;
  if (stat(step.source, &st) != 0) return -1;
  if (make_path(step.target, !S_ISDIR(st.st_mode)) != 0) return -1;
  if (mount(step.source, step.target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return -1;
  unsigned long flags = MS_BIND | MS_REMOUNT | locked_flags(step.target) | extra_flags;
  return mount(nullptr, step.target, nullptr, flags, nullptr);
}

// Moves a detached mount tree (made and set read-only by a more privileged
// process) into place. Its flags and propagation are set again here rather
// than trusted: private, so that no mount event crosses between this
// namespace and the one it was cloned from, and read-only, nosuid, nodev,
// noexec. Mount namespaces created below this one (sandboxes) get a copy with
// these flags locked.
int attach_mount(const MountStep& step) {
  if (step.source_fd < 0) {
    errno = EBADF;
    return -1;
  }
  if (make_path(step.target, false) != 0) return -1;
  if (move_mount(step.source_fd, "", AT_FDCWD, step.target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return -1;
  if (mount(nullptr, step.target, nullptr, MS_PRIVATE, nullptr) != 0) return -1;
  return mount(nullptr, step.target, nullptr,
               MS_BIND | MS_REMOUNT | locked_flags(step.target) | MS_RDONLY | MS_NOSUID |
                   MS_NODEV | MS_NOEXEC,
               nullptr);
}

int apply_step(const MountStep& step) {
  switch (step.kind) {
    case Kind::kMakeRootPrivate:
      return mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    case Kind::kStageBase:
      if (mount("sprout-staging", kMountStaging, "tmpfs", MS_NOSUID | MS_NODEV,
                "size=1m,mode=0755") != 0) {
        return -1;
      }
      if (chdir(kMountStaging) != 0) return -1;
      if (mkdir("newroot", 0755) != 0 || mkdir("oldroot", 0755) != 0) return -1;
      if (pivot_root(".", "oldroot") != 0) return -1;
      return chdir("/");
    case Kind::kTmpfs:
      if (make_path(step.target, false) != 0) return -1;
      return mount("tmpfs", step.target, "tmpfs", MS_NOSUID | MS_NODEV, step.data);
    case Kind::kBind:
      return bind_mount(step,
                        step.writable ? MS_NOSUID | MS_NODEV : MS_RDONLY | MS_NOSUID | MS_NODEV);
    case Kind::kBindDevice: {
      // No read-only remount: a device node is neither executable nor
      // setuid, so nosuid/noexec would add a mount call and no protection.
      struct stat st;
      if (stat(step.source, &st) != 0) return -1;
      if (make_path(step.target, true) != 0) return -1;
      return mount(step.source, step.target, nullptr, MS_BIND, nullptr);
    }
    case Kind::kProc:
      if (make_path(step.target, false) != 0) return -1;
      return mount("proc", step.target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    case Kind::kSymlink:
      if (make_path(step.target, true) == 0) unlink(step.target);
      return symlink(step.source, step.target);
    case Kind::kWriteFile: {
      if (make_path(step.target, true) != 0) return -1;
      int fd = open(step.target, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) return -1;
      ssize_t n = write(fd, step.data, step.data_size);
      close(fd);
      return n == static_cast<ssize_t>(step.data_size) ? 0 : -1;
    }
    case Kind::kDetachOldRoot:
      return umount2(kMountOldRoot, MNT_DETACH);
    case Kind::kEnterNewRoot:
      // pivot_root(".", ".") stacks the old root on top of the new one; the
      // lazy unmount of "." then removes it, leaving no path back to the host.
      if (chdir(kMountNewRoot) != 0) return -1;
      if (pivot_root(".", ".") != 0) return -1;
      if (umount2(".", MNT_DETACH) != 0) return -1;
      return chdir("/");
    case Kind::kRemountReadOnly:
      // No MS_NODEV: this is /dev, whose device nodes must stay usable.
      return mount(nullptr, step.target, nullptr,
                   MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, nullptr);
    case Kind::kRemountRootReadOnly:
      return mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                   nullptr);
    case Kind::kAttachMount:
      return attach_mount(step);
  }
  errno = EINVAL;
  return -1;
}

}  // namespace

int apply_mount_steps(const MountStep* steps, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (apply_step(steps[i]) != 0) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace sprout
