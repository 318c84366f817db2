#include "events/file/directory_watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"

namespace sprout::events {
namespace {

// No IN_DONT_FOLLOW: watches are added through "/proc/self/fd/N", a magic
// link that must be followed to the directory opened (confined) before.
constexpr uint32_t kDirectoryMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                    IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |
                                    IN_EXCL_UNLINK;

// openat2() confined to the tree: no symlink in any component (a symlink
// planted in the watched directory must not make sproutd, as root, read or
// list what it points to), no ".." out of it.
int open_confined(int root_fd, const std::string& relative, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const char* path = relative.empty() ? "." : relative.c_str();
  return static_cast<int>(
      retry_eintr([&] { return syscall(SYS_openat2, root_fd, path, &how, sizeof how); }));
}

std::string child_of(const std::string& directory, std::string_view name) {
  if (directory.empty()) return std::string(name);
  std::string child = directory;
  child += '/';
  child += name;
  return child;
}

}  // namespace

Result<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::open(const std::string& root,
                                                                 Options options,
                                                                 Callbacks callbacks) {
  // O_NOFOLLOW alone refuses a symlink only as the last component: a
  // directory higher up swapped for a symlink (renameat2 RENAME_EXCHANGE)
  // would point the trigger, which reads files as root, elsewhere.
  // RESOLVE_NO_SYMLINKS refuses one anywhere; everything after works
  // relative to this descriptor, never by the path again.
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd root_fd(static_cast<int>(
      retry_eintr([&] { return syscall(SYS_openat2, AT_FDCWD, root.c_str(), &how, sizeof how); })));
  if (!root_fd) {
    if (errno == ELOOP)
      return plain_error("open the watched directory " + root,
                         "its path now goes through a symlink (its canonical path changed); "
                         "refusing to follow it");
    return os_error("open the watched directory", root);
  }
  UniqueFd inotify(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify) return os_error("inotify_init1", root);
  return std::unique_ptr<DirectoryWatcher>(new DirectoryWatcher(
      root, options, std::move(callbacks), std::move(inotify), std::move(root_fd)));
}

bool DirectoryWatcher::still_at_its_path() const {
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const UniqueFd now(static_cast<int>(
      retry_eintr([&] { return syscall(SYS_openat2, AT_FDCWD, root_.c_str(), &how, sizeof how); })));
  if (!now) return false;
  struct stat at_path {};
  struct stat watched {};
  return fstat(now.get(), &at_path) == 0 && fstat(root_fd_.get(), &watched) == 0 &&
         at_path.st_dev == watched.st_dev && at_path.st_ino == watched.st_ino;
}

DirectoryWatcher::~DirectoryWatcher() = default;  // closing the inotify fd drops every watch

Result<UniqueFd> DirectoryWatcher::open_beneath(const std::string& relative) const {
  // O_PATH first, so that nothing but a regular file is ever opened for
  // reading: opening a device can have effects, a FIFO would block.
  UniqueFd path_fd(open_confined(root_fd_.get(), relative, O_PATH | O_NOFOLLOW));
  if (!path_fd) return os_error("open beneath the watched directory", relative);
  struct stat st {};
  if (fstat(path_fd.get(), &st) != 0) return os_error("fstat", relative);
  if (!S_ISREG(st.st_mode))
    return plain_error("open " + relative, "not a regular file (symlinks, FIFOs, devices are not objects)");
  // Reopening through the descriptor's /proc link opens exactly the inode
  // checked above, whatever the name points to by now.
  const std::string link = "/proc/self/fd/" + std::to_string(path_fd.get());
  UniqueFd fd(retry_eintr(
      [&] { return ::open(link.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC); }));
  if (!fd) return os_error("reopen for reading", relative);
  return fd;
}

bool DirectoryWatcher::add_watch(const std::string& relative, int directory_fd, int* watch) {
  const bool known = watch_of_path_.contains(relative);
  if (!known && path_of_watch_.size() >= options_.max_directories) {
    if (!over_limit_)
      log_line(LogLevel::kWarning, "file trigger on " + root_ + ": more than " +
                                       std::to_string(options_.max_directories) +
                                       " directories; the rest are not watched");
    over_limit_ = true;
    return false;
  }
  // The inode opened beneath the root, not a path that may lead elsewhere
  // by now.
  const std::string opened = "/proc/self/fd/" + std::to_string(directory_fd);
  const int wd = inotify_add_watch(inotify_.get(), opened.c_str(), kDirectoryMask);
  if (wd < 0) {
    if (errno == ENOSPC) {
      if (!over_limit_)
        log_line(LogLevel::kWarning, "file trigger on " + root_ +
                                         ": the kernel's inotify watch limit is reached "
                                         "(fs.inotify.max_user_watches)");
      over_limit_ = true;
    }
    return false;  // ENOENT, ENOTDIR: gone or replaced since it was seen
  }
  // One inode has one watch: a directory seen again under a new name (moved
  // while events were lost) keeps its descriptor and takes the new name.
  if (auto old = path_of_watch_.find(wd); old != path_of_watch_.end() && old->second != relative)
    watch_of_path_.erase(old->second);
  if (auto old = watch_of_path_.find(relative); old != watch_of_path_.end() && old->second != wd)
    path_of_watch_.erase(old->second);
  path_of_watch_[wd] = relative;
  watch_of_path_[relative] = wd;
  *watch = wd;
  return true;
}

void DirectoryWatcher::watch_and_scan(const std::string& relative,
                                      std::map<int, std::string>* seen) {
  // Depth-first with an explicit stack: a deep tree must not exhaust ours.
  std::vector<std::string> pending{relative};
  while (!pending.empty()) {
    const std::string directory = std::move(pending.back());
    pending.pop_back();
    // The watch first, then the listing: a file made in between is seen by
    // both (the caller's cursor makes that one delivery), never by neither.
    // One descriptor, opened confined, for both: the watch and the listing
    // are of the same directory, whatever its path points to meanwhile.
    const int dir_fd = open_confined(root_fd_.get(), directory, O_RDONLY | O_DIRECTORY);
    if (dir_fd < 0) continue;  // gone, or reached through a symlink: not ours
    int wd = -1;
    if (!add_watch(directory, dir_fd, &wd)) {
      ::close(dir_fd);
      continue;
    }
    if (seen) (*seen)[wd] = directory;
    DIR* listing = fdopendir(dir_fd);
    if (!listing) {
      ::close(dir_fd);
      continue;
    }
    while (const dirent* entry = readdir(listing)) {
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      unsigned char type = entry->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (fstatat(dirfd(listing), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      }
      if (type == DT_DIR) {
        pending.push_back(child_of(directory, name));
      } else if (type == DT_REG) {
        callbacks_.file(child_of(directory, name), Found::kScan);
      }
    }
    closedir(listing);
  }
}

void DirectoryWatcher::forget_subtree(const std::string& relative) {
  auto drop = [&](std::map<std::string, int>::iterator it) {
    (void)inotify_rm_watch(inotify_.get(), it->second);  // EINVAL: the kernel dropped it already
    path_of_watch_.erase(it->second);
    return watch_of_path_.erase(it);
  };
  if (relative.empty()) {
    while (!watch_of_path_.empty()) drop(watch_of_path_.begin());
    return;
  }
  if (auto it = watch_of_path_.find(relative); it != watch_of_path_.end()) drop(it);
  // Everything under "a/" sorts between "a/" and "a0" ('0' follows '/').
  const std::string first = relative + "/";
  const std::string past = relative + "0";
  for (auto it = watch_of_path_.lower_bound(first); it != watch_of_path_.end() && it->first < past;)
    it = drop(it);
}

Result<void> DirectoryWatcher::rescan() {
  std::map<int, std::string> seen;
  over_limit_ = false;
  watch_and_scan("", &seen);
  if (!watch_of_path_.contains("")) {
    root_gone_ = true;
    return plain_error("watch " + root_, "the directory is gone or cannot be watched");
  }
  // Watches of directories no longer in the tree (their events were lost).
  std::vector<int> stale;
  for (const auto& [wd, path] : path_of_watch_)
    if (!seen.contains(wd)) stale.push_back(wd);
  for (const int wd : stale) {
    (void)inotify_rm_watch(inotify_.get(), wd);  // EINVAL: already dropped by the kernel
    watch_of_path_.erase(path_of_watch_[wd]);
    path_of_watch_.erase(wd);
  }
  return {};
}

void DirectoryWatcher::handle_event(int watch, uint32_t mask, const std::string& name) {
  if (mask & IN_Q_OVERFLOW) {
    log_line(LogLevel::kWarning, "file trigger on " + root_ + ": inotify queue overflowed; rescanning");
    (void)rescan();  // a failure leaves root_gone() set, which the owner reads
    return;
  }
  const auto it = path_of_watch_.find(watch);
  if (it == path_of_watch_.end()) return;  // a watch already forgotten
  const std::string directory = it->second;
  if (mask & IN_IGNORED) {  // the kernel dropped the watch: its directory is gone
    watch_of_path_.erase(directory);
    path_of_watch_.erase(it);
    if (directory.empty()) root_gone_ = true;
    return;
  }
  if (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    // For the root nothing else will say so; any other directory's parent
    // reports it (IN_DELETE, IN_MOVED_FROM).
    if (directory.empty()) root_gone_ = true;
    return;
  }
  if (name.empty()) return;
  const std::string child = child_of(directory, name);
  if (mask & IN_ISDIR) {
    if (mask & (IN_CREATE | IN_MOVED_TO)) watch_and_scan(child, nullptr);
    if (mask & (IN_DELETE | IN_MOVED_FROM)) {
      forget_subtree(child);
      callbacks_.removed(child, true);
    }
    return;
  }
  if (mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
    callbacks_.file(child, Found::kEvent);
  } else if (mask & IN_CREATE) {
    // A new name for an existing file (link()) never gets IN_CLOSE_WRITE; a
    // file just created by open() does, once written: only the former here.
    struct stat st {};
    if (fstatat(root_fd_.get(), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && st.st_nlink > 1)
      callbacks_.file(child, Found::kScan);
  } else if (mask & (IN_DELETE | IN_MOVED_FROM)) {
    callbacks_.removed(child, false);
  }
}

Result<void> DirectoryWatcher::process_events() {
  alignas(inotify_event) std::array<char, 64 * 1024> buffer{};
  for (;;) {
    const ssize_t got = retry_eintr([&] { return ::read(inotify_.get(), buffer.data(), buffer.size()); });
    if (got < 0) {
      if (errno == EAGAIN) return {};
      return os_error("read inotify events", root_);
    }
    for (ssize_t offset = 0; offset < got;) {
      inotify_event header{};
      std::memcpy(&header, buffer.data() + offset, sizeof header);
      const char* name_start = buffer.data() + offset + sizeof header;
      const std::string name = header.len ? std::string(name_start, strnlen(name_start, header.len))
                                          : std::string();
      offset += static_cast<ssize_t>(sizeof header + header.len);
      handle_event(header.wd, header.mask, name);
    }
  }
}

}  // namespace sprout::events
