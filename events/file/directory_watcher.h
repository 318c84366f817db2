// A recursive inotify watch of one directory tree that reports the regular
// files that may have become complete objects: closed after writing, moved
// in, hard-linked in, or found by a scan (a directory created or moved into
// the tree is scanned right after its watch is added, for the files made
// before the watch existed; a lost event queue (IN_Q_OVERFLOW) rescans it
// all). It only reports names; the caller opens them with open_beneath(),
// which refuses symlinks anywhere in the path and paths leaving the tree.
// Symlinks are never followed, other kinds of files never reported.
//
// Not a thread: the owner polls fd() for POLLIN and calls process_events().
// Used by one thread at a time. Memory is bounded by max_directories.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "base/errors.h"
#include "base/unique_fd.h"

namespace sprout::events {

class DirectoryWatcher {
 public:
  enum class Found {
    kEvent,  // closed after writing or moved in: complete now
    kScan,   // seen by a scan or linked in: may still be being written
  };
  struct Callbacks {
    // A regular file at `relative` ("a/b.txt", never starting with '/').
    std::function<void(const std::string& relative, Found how)> file;
    // `relative` was deleted or moved away; `directory`: with all below it.
    std::function<void(const std::string& relative, bool directory)> removed;
  };
  struct Options {
    size_t max_directories = 10000;
  };

  // Opens `root` (absolute, a directory): refused when any component of it
  // is a symlink. Watches nothing yet: call rescan().
  static Result<std::unique_ptr<DirectoryWatcher>> open(const std::string& root, Options options,
                                                        Callbacks callbacks);
  ~DirectoryWatcher();
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;

  // The inotify descriptor, to poll for POLLIN.
  int fd() const { return inotify_.get(); }

  // Watches every directory of the tree (up to max_directories) and reports
  // every regular file in it as kScan. Drops watches of directories gone.
  Result<void> rescan();

  // Reads and handles every queued event without blocking.
  Result<void> process_events();

  // Whether the root's path still leads, without a symlink, to the
  // directory watched: a directory above it moved or swapped (no event
  // tells) means the trigger no longer watches what its path names.
  bool still_at_its_path() const;

  // The root itself was deleted or moved away: nothing more will come.
  bool root_gone() const { return root_gone_; }
  // Some directories are not watched: the tree has more than max_directories,
  // or the kernel's inotify watch limit was reached.
  bool over_limit() const { return over_limit_; }
  size_t watched_directories() const { return path_of_watch_.size(); }

  // Opens `relative` under the root for reading: refused (ELOOP, EXDEV) when
  // any component is a symlink or the path leaves the tree; O_NONBLOCK so
  // that a FIFO never blocks. Returns the descriptor and its stat.
  Result<UniqueFd> open_beneath(const std::string& relative) const;

 private:
  DirectoryWatcher(std::string root, Options options, Callbacks callbacks, UniqueFd inotify,
                   UniqueFd root_fd)
      : root_(std::move(root)),
        options_(options),
        callbacks_(std::move(callbacks)),
        inotify_(std::move(inotify)),
        root_fd_(std::move(root_fd)) {}

  // Adds the watch of directory `relative` ("" the root) and scans it and
  // every directory below it, reporting files. `seen`, when given, collects
  // the watch descriptors found (for a full rescan).
  void watch_and_scan(const std::string& relative, std::map<int, std::string>* seen);
  // Adds or refreshes the watch of `directory_fd` (opened beneath the root
  // at `relative`); false when not watched (limit, gone).
  bool add_watch(const std::string& relative, int directory_fd, int* watch);
  void forget_subtree(const std::string& relative);
  void handle_event(int watch, uint32_t mask, const std::string& name);

  std::string root_;
  Options options_;
  Callbacks callbacks_;
  UniqueFd inotify_;
  UniqueFd root_fd_;  // O_PATH of the root: the anchor of open_beneath()
  std::unordered_map<int, std::string> path_of_watch_;
  std::map<std::string, int> watch_of_path_;  // ordered: a subtree is a range
  bool root_gone_ = false;
  bool over_limit_ = false;
};

}  // namespace sprout::events
