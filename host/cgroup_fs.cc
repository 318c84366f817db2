#include "host/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "base/file_io.h"
#include "base/unique_fd.h"

namespace sprout {

int CgroupFs::make_dir(const std::string& path) const { return ::mkdir(path.c_str(), 0755); }

int CgroupFs::remove_dir(const std::string& path) const { return ::rmdir(path.c_str()); }

Result<void> CgroupFs::write_file(const std::string& path, const std::string& value) const {
  return write_cgroup_file(path, value);
}

const CgroupFs& real_cgroup_fs() {
  static const CgroupFs fs;
  return fs;
}

Result<void> write_cgroup_file(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return os_error("open", path);
  if (retry_eintr([&] { return ::write(fd.get(), value.data(), value.size()); }) < 0) {
    return os_error("write " + value + " to", path);
  }
  return {};
}

Result<std::string> read_cgroup_file(const std::string& path) { return read_whole_file(path); }

void kill_cgroup_procs(const std::string& dir) {
  if (auto procs = read_cgroup_file(dir + "/cgroup.procs")) {
    std::istringstream in(*procs);
    pid_t pid;
    while (in >> pid) ::kill(pid, SIGKILL);
  }
}

void remove_cgroup_tree(const std::string& dir, const CgroupFs& fs) {
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* entry = readdir(d)) {
      if (entry->d_type == DT_DIR && entry->d_name[0] != '.') {
        remove_cgroup_tree(dir + "/" + entry->d_name, fs);
      }
    }
    closedir(d);
  }
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (fs.remove_dir(dir) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    // Still populated: a crashed run's processes. Kill them and retry.
    kill_cgroup_procs(dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<std::vector<std::string>> make_cgroup_dirs(const CgroupFs& fs,
                                                  const std::vector<std::string>& parent_dirs,
                                                  const std::string& name) {
  std::vector<std::string> dirs;
  for (const auto& parent : parent_dirs) {
    std::string dir = parent + "/" + name;
    if (fs.make_dir(dir) != 0 && errno != EEXIST) {
      const int err = errno;
      for (const auto& made : dirs) (void)fs.remove_dir(made);
      return os_error("create cgroup", dir, err);
    }
    dirs.push_back(dir);
  }
  return dirs;
}

uint64_t cgroup_keyed_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  uint64_t v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

uint64_t cgroup_number(const std::string& text) {
  try {
    return std::stoull(text);
  } catch (...) {
    return 0;
  }
}

bool cgroup_list_contains(const std::string& list, const std::string& item) {
  std::stringstream stream(list);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (part == item) return true;
  }
  return false;
}

}  // namespace sprout
