// What the cgroup drivers need of the file system, and the small file helpers
// they share.
//
// Everything a driver does to a leaf is plain file I/O (open, read, pread,
// write) and works the same on a directory tree of plain files. Only two
// operations differ on cgroupfs: mkdir, after which the kernel fills the new
// directory with the controllers' files, and rmdir, which removes those files
// with the directory and fails with EBUSY while processes are inside. Those
// two go through CgroupFs, so that tests can run the drivers against a fake
// tree in a temporary directory (tests/unit/cgroup_driver_test.cc).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/errors.h"

namespace sprout {

class CgroupFs {
 public:
  virtual ~CgroupFs() = default;
  // 0, or -1 with errno set, like mkdir(2) and rmdir(2).
  virtual int make_dir(const std::string& path) const;
  virtual int remove_dir(const std::string& path) const;
  // write_cgroup_file() below, for the writes whose answer depends on the
  // kernel's rules (cgroup v2's subtree_control, moving a process).
  virtual Result<void> write_file(const std::string& path, const std::string& value) const;
};

// The real cgroupfs: mkdir(2) and rmdir(2). Lives as long as the process.
const CgroupFs& real_cgroup_fs();

Result<void> write_cgroup_file(const std::string& path, const std::string& value);
Result<std::string> read_cgroup_file(const std::string& path);
// Removes a cgroup directory, killing what still runs in it. Recursive.
void remove_cgroup_tree(const std::string& dir, const CgroupFs& fs = real_cgroup_fs());
// SIGKILL to every pid listed in <dir>/cgroup.procs.
void kill_cgroup_procs(const std::string& dir);
// Creates <parent>/<name> under every parent; on failure removes what it made.
Result<std::vector<std::string>> make_cgroup_dirs(const CgroupFs& fs,
                                                  const std::vector<std::string>& parent_dirs,
                                                  const std::string& name);

// Parsing of cgroup files.
// "key value" lines, as in memory.events, memory.oom_control, cpu.stat; 0
// when the key is absent.
uint64_t cgroup_keyed_value(const std::string& text, const std::string& key);
// The leading number of a file such as memory.peak; 0 when there is none.
uint64_t cgroup_number(const std::string& text);
// Whether the comma-separated `list` ("cpu,cpuacct") names `item`.
bool cgroup_list_contains(const std::string& list, const std::string& item);

}  // namespace sprout
