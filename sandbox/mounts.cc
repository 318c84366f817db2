#include "sandbox/mounts.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace sprout {
namespace {

constexpr const char* kStaging = "/tmp";
constexpr const char* kNewRoot = "/newroot";
constexpr const char* kOldRoot = "/oldroot";

using Kind = MountStep::Kind;

bool is_clean_absolute(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  if (path.size() >= PATH_MAX - 16) return false;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0 && end - start == 2) return false;
    start = end + 1;
  }
  return true;
}

bool host_path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void add(MountPlan& plan, Kind kind, std::string source, std::string target, std::string data,
         std::string description, bool writable = false) {
  plan.steps.push_back(MountStep{kind, std::move(source), std::move(target), std::move(data),
                                 writable, std::move(description)});
}

void add_bind(MountPlan& plan, const std::string& host, const std::string& inside, bool writable) {
  // Resolve links on the host side now: inside the staging root an absolute
  // link target would point into the staging tmpfs instead of /oldroot.
  char resolved[PATH_MAX];
  std::string source = realpath(host.c_str(), resolved) ? resolved : host;
  add(plan, Kind::kBind, kOldRoot + source, kNewRoot + inside, "", "bind " + host + " on " + inside,
      writable);
}

// ---- child side helpers: async-signal-safe, fixed buffers only ----

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

int bind(const MountStep& step, unsigned long extra_flags) {
  struct stat st;
  if (stat(step.source.c_str(), &st) != 0) return -1;
  if (make_path(step.target.c_str(), !S_ISDIR(st.st_mode)) != 0) return -1;
  if (mount(step.source.c_str(), step.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return -1;
  }
  unsigned long flags = MS_BIND | MS_REMOUNT | locked_flags(step.target.c_str()) | extra_flags;
  return mount(nullptr, step.target.c_str(), nullptr, flags, nullptr);
}

int apply_step(const MountStep& step) {
  switch (step.kind) {
    case Kind::kMakeRootPrivate:
      return mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    case Kind::kStageBase:
      if (mount("sprout-staging", kStaging, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") !=
          0) {
        return -1;
      }
      if (chdir(kStaging) != 0) return -1;
      if (mkdir("newroot", 0755) != 0 || mkdir("oldroot", 0755) != 0) return -1;
      if (pivot_root(".", "oldroot") != 0) return -1;
      return chdir("/");
    case Kind::kTmpfs:
      if (make_path(step.target.c_str(), false) != 0) return -1;
      return mount("tmpfs", step.target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, step.data.c_str());
    case Kind::kBind:
      return bind(step, step.writable ? MS_NOSUID | MS_NODEV : MS_RDONLY | MS_NOSUID | MS_NODEV);
    case Kind::kBindDevice: {
      // No read-only remount: a device node is neither executable nor
      // setuid, so nosuid/noexec would add a mount call and no protection.
      struct stat st;
      if (stat(step.source.c_str(), &st) != 0) return -1;
      if (make_path(step.target.c_str(), true) != 0) return -1;
      return mount(step.source.c_str(), step.target.c_str(), nullptr, MS_BIND, nullptr);
    }
    case Kind::kProc:
      if (make_path(step.target.c_str(), false) != 0) return -1;
      return mount("proc", step.target.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    case Kind::kSymlink:
      if (make_path(step.target.c_str(), true) == 0) unlink(step.target.c_str());
      return symlink(step.source.c_str(), step.target.c_str());
    case Kind::kWriteFile: {
      if (make_path(step.target.c_str(), true) != 0) return -1;
      int fd = open(step.target.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) return -1;
      ssize_t n = write(fd, step.data.data(), step.data.size());
      close(fd);
      return n == static_cast<ssize_t>(step.data.size()) ? 0 : -1;
    }
    case Kind::kDetachOldRoot:
      return umount2(kOldRoot, MNT_DETACH);
    case Kind::kEnterNewRoot:
      // pivot_root(".", ".") stacks the old root on top of the new one; the
      // lazy unmount of "." then removes it, leaving no path back to the host.
      if (chdir(kNewRoot) != 0) return -1;
      if (pivot_root(".", ".") != 0) return -1;
      if (umount2(".", MNT_DETACH) != 0) return -1;
      return chdir("/");
    case Kind::kRemountReadOnly:
      // No MS_NODEV: this is /dev, whose device nodes must stay usable.
      return mount(nullptr, step.target.c_str(), nullptr,
                   MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, nullptr);
    case Kind::kRemountRootReadOnly:
      return mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                   nullptr);
  }
  errno = EINVAL;
  return -1;
}

}  // namespace

Result<MountPlan> plan_mounts(const sandbox::SandboxSpec& spec) {
  MountPlan plan;
  add(plan, Kind::kMakeRootPrivate, "", "/", "", "make mounts private on /");
  if (spec.inherit_root()) {
    // The copy of the spawner's (read-only, host-free) tree that the new
    // mount namespace starts with is the root; only what must be fresh per
    // sandbox is mounted over it. The mounts beneath are locked to the
    // sandbox (they come from a more privileged user namespace).
    add(plan, Kind::kProc, "", "/proc", "", "mount proc on /proc");
    add(plan, Kind::kTmpfs, "", "/tmp",
        "size=" + std::to_string(spec.tmp_size_bytes()) + ",mode=1777", "mount tmpfs on /tmp");
    return plan;
  }
  add(plan, Kind::kStageBase, "", kStaging, "", "stage new root on tmpfs at /tmp");
  add(plan, Kind::kTmpfs, "", kNewRoot, "size=1m,mode=0755", "mount tmpfs on / (new root)");

  for (const std::string& path : spec.runtime_paths()) {
    if (!is_clean_absolute(path))
      return plain_error("plan mounts", "runtime path not absolute and clean: " + path);
    add_bind(plan, path, path, false);
  }
  // Merged-/usr hosts (Debian 12) have /bin, /sbin, /lib, /lib64 as links
  // into /usr; recreate the links, or bind the directories where they are real.
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib64"}) {
    char link[PATH_MAX];
    ssize_t n = readlink(top, link, sizeof link - 1);
    if (n > 0) {
      add(plan, Kind::kSymlink, std::string(link, n), std::string(kNewRoot) + top, "",
          std::string("link ") + top);
    } else if (host_path_exists(top)) {
      bool covered = false;
      for (const std::string& path : spec.runtime_paths()) covered |= path == top;
      if (!covered) add_bind(plan, top, top, false);
    }
  }

  // /etc files are copied into the new root (or, for links such as
  // /etc/localtime, recreated), not bind-mounted: two mount calls saved per
  // file on every spawn. They are read once, when the spec is prepared.
  for (const std::string& file : spec.etc_files()) {
    if (!is_clean_absolute(file) || file.rfind("/etc/", 0) != 0) {
      return plain_error("plan mounts", "etc file must be under /etc: " + file);
    }
    char link[PATH_MAX];
    ssize_t n = readlink(file.c_str(), link, sizeof link - 1);
    if (n > 0) {
      add(plan, Kind::kSymlink, std::string(link, n), kNewRoot + file, "", "link " + file);
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) continue;  // a default the host lacks
    std::stringstream contents;
    contents << in.rdbuf();
    add(plan, Kind::kWriteFile, "", kNewRoot + file, contents.str(), "write " + file);
  }
  add(plan, Kind::kWriteFile, "", std::string(kNewRoot) + "/etc/passwd",
      "root:x:0:0:sandbox:/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/"
      "sbin/nologin\n",
      "write /etc/passwd");
  add(plan, Kind::kWriteFile, "", std::string(kNewRoot) + "/etc/group",
      "root:x:0:\nnogroup:x:65534:\n", "write /etc/group");
  add(plan, Kind::kWriteFile, "", std::string(kNewRoot) + "/etc/hosts",
      "127.0.0.1 localhost " + spec.hostname() + "\n::1 localhost\n", "write /etc/hosts");

  if (!spec.code_dir().empty()) {
    if (!is_clean_absolute(spec.code_dir()))
      return plain_error("plan mounts", "code_dir not absolute and clean: " + spec.code_dir());
    add_bind(plan, spec.code_dir(), "/var/task", false);
  }
  for (const auto& bind : spec.binds()) {
    if (!is_clean_absolute(bind.source()) || !is_clean_absolute(bind.target())) {
      return plain_error("plan mounts", "bind paths must be absolute and clean: " + bind.source() +
                                            " -> " + bind.target());
    }
    add_bind(plan, bind.source(), bind.target(), bind.writable());
  }

  // A fresh procfs of the sandbox's pid namespace, unless a bind provides
  // /proc (a function snapshot, which shares the host's pid namespace).
  bool proc_bound = false;
  for (const auto& bind : spec.binds()) proc_bound |= bind.target() == "/proc";
  if (!proc_bound)
    add(plan, Kind::kProc, "", std::string(kNewRoot) + "/proc", "", "mount proc on /proc");

  add(plan, Kind::kTmpfs, "", std::string(kNewRoot) + "/dev", "size=64k,mode=0755",
      "mount tmpfs on /dev");
  // Device nodes cannot be created in a user namespace: bind the host's.
  for (const char* device : {"null", "zero", "full", "random", "urandom"}) {
    std::string path = std::string("/dev/") + device;
    add(plan, Kind::kBindDevice, kOldRoot + path, kNewRoot + path, "", "bind device " + path);
  }
  add(plan, Kind::kSymlink, "/proc/self/fd", std::string(kNewRoot) + "/dev/fd", "", "link /dev/fd");
  add(plan, Kind::kSymlink, "/proc/self/fd/0", std::string(kNewRoot) + "/dev/stdin", "",
      "link /dev/stdin");
  add(plan, Kind::kSymlink, "/proc/self/fd/1", std::string(kNewRoot) + "/dev/stdout", "",
      "link /dev/stdout");
  add(plan, Kind::kSymlink, "/proc/self/fd/2", std::string(kNewRoot) + "/dev/stderr", "",
      "link /dev/stderr");

  add(plan, Kind::kRemountReadOnly, "", std::string(kNewRoot) + "/dev", "",
      "remount /dev read-only");

  add(plan, Kind::kTmpfs, "", std::string(kNewRoot) + "/tmp",
      "size=" + std::to_string(spec.tmp_size_bytes()) + ",mode=1777", "mount tmpfs on /tmp");
  add(plan, Kind::kDetachOldRoot, "", kOldRoot, "", "detach the host's root");
  add(plan, Kind::kEnterNewRoot, "", kNewRoot, "", "pivot_root into the new root");
  add(plan, Kind::kRemountRootReadOnly, "", "/", "", "remount / read-only");
  return plan;
}

int apply_mount_plan(const MountPlan& plan) {
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (apply_step(plan.steps[i]) != 0) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace sprout
