// Parent side of the mount plan: may allocate.
#include "sandbox/mount_plan.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace sprout {
namespace {

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
         std::string description, bool writable = false, int source_fd = -1) {
  plan.steps.push_back(PlannedMount{kind, std::move(source), std::move(target), std::move(data),
                                    writable, std::move(description), source_fd});
}

void add_bind(MountPlan& plan, const std::string& host, const std::string& inside, bool writable) {
  // Resolve links on the host side now: inside the staging root an absolute
  // link target would point into the staging tmpfs instead of /oldroot.
  char resolved[PATH_MAX];
  std::string source = realpath(host.c_str(), resolved) ? resolved : host;
  add(plan, Kind::kBind, kMountOldRoot + source, kMountNewRoot + inside, "",
      "bind " + host + " on " + inside, writable);
}

}  // namespace

bool is_read_only_mount_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto letter_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!letter_or_digit(name.front()) || !letter_or_digit(name.back())) return false;
  for (char c : name) {
    if (!letter_or_digit(c) && c != '.' && c != '-') return false;
  }
  return true;
}

std::vector<MountStep> MountPlan::child_steps() const {
  std::vector<MountStep> plain;
  plain.reserve(steps.size());
  for (const PlannedMount& step : steps) {
    plain.push_back(MountStep{step.kind, step.source.c_str(), step.target.c_str(),
                              step.data.c_str(), step.data.size(), step.writable,
                              step.description.c_str(), step.source_fd});
  }
  return plain;
}

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
  add(plan, Kind::kStageBase, "", kMountStaging, "", "stage new root on tmpfs at /tmp");
  add(plan, Kind::kTmpfs, "", kMountNewRoot, "size=1m,mode=0755", "mount tmpfs on / (new root)");

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
      add(plan, Kind::kSymlink, std::string(link, n), std::string(kMountNewRoot) + top, "",
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
      add(plan, Kind::kSymlink, std::string(link, n), kMountNewRoot + file, "", "link " + file);
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) continue;  // a default the host lacks
    std::stringstream contents;
    contents << in.rdbuf();
    add(plan, Kind::kWriteFile, "", kMountNewRoot + file, contents.str(), "write " + file);
  }
  add(plan, Kind::kWriteFile, "", std::string(kMountNewRoot) + "/etc/passwd",
      "root:x:0:0:sandbox:/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/"
      "sbin/nologin\n",
      "write /etc/passwd");
  add(plan, Kind::kWriteFile, "", std::string(kMountNewRoot) + "/etc/group",
      "root:x:0:\nnogroup:x:65534:\n", "write /etc/group");
  add(plan, Kind::kWriteFile, "", std::string(kMountNewRoot) + "/etc/hosts",
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
  for (const auto& attached : spec.attached_mounts()) {
    if (attached.fd() < 0 || !is_clean_absolute(attached.target()) || attached.target() == "/") {
      return plain_error("plan mounts", "attached mount needs a descriptor and an absolute, clean "
                                        "target other than /: " +
                                            attached.target());
    }
    add(plan, Kind::kAttachMount, "", kMountNewRoot + attached.target(), "",
        "attach read-only mount on " + attached.target(), false, attached.fd());
  }

  // A fresh procfs of the sandbox's pid namespace, unless a bind provides
  // /proc (a function snapshot, which shares the host's pid namespace).
  bool proc_bound = false;
  for (const auto& bind : spec.binds()) proc_bound |= bind.target() == "/proc";
  if (!proc_bound)
    add(plan, Kind::kProc, "", std::string(kMountNewRoot) + "/proc", "", "mount proc on /proc");

  add(plan, Kind::kTmpfs, "", std::string(kMountNewRoot) + "/dev", "size=64k,mode=0755",
      "mount tmpfs on /dev");
  // Device nodes cannot be created in a user namespace: bind the host's.
  for (const char* device : {"null", "zero", "full", "random", "urandom"}) {
    std::string path = std::string("/dev/") + device;
    add(plan, Kind::kBindDevice, kMountOldRoot + path, kMountNewRoot + path, "",
        "bind device " + path);
  }
  add(plan, Kind::kSymlink, "/proc/self/fd", std::string(kMountNewRoot) + "/dev/fd", "",
      "link /dev/fd");
  add(plan, Kind::kSymlink, "/proc/self/fd/0", std::string(kMountNewRoot) + "/dev/stdin", "",
      "link /dev/stdin");
  add(plan, Kind::kSymlink, "/proc/self/fd/1", std::string(kMountNewRoot) + "/dev/stdout", "",
      "link /dev/stdout");
  add(plan, Kind::kSymlink, "/proc/self/fd/2", std::string(kMountNewRoot) + "/dev/stderr", "",
      "link /dev/stderr");

  add(plan, Kind::kRemountReadOnly, "", std::string(kMountNewRoot) + "/dev", "",
      "remount /dev read-only");

  add(plan, Kind::kTmpfs, "", std::string(kMountNewRoot) + "/tmp",
      "size=" + std::to_string(spec.tmp_size_bytes()) + ",mode=1777", "mount tmpfs on /tmp");
  add(plan, Kind::kDetachOldRoot, "", kMountOldRoot, "", "detach the host's root");
  add(plan, Kind::kEnterNewRoot, "", kMountNewRoot, "", "pivot_root into the new root");
  add(plan, Kind::kRemountRootReadOnly, "", "/", "", "remount / read-only");
  return plan;
}

}  // namespace sprout
