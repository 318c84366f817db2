#include "tests/e2e/process_scan.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace sprout::testing {
namespace {

std::vector<std::string> cgroup_mount_points() {
  std::vector<std::string> points;
  std::istringstream mounts(read_text("/proc/mounts"));
  std::string device, point, type;
  std::string rest;
  while (mounts >> device >> point >> type) {
    std::getline(mounts, rest);
    if (type == "cgroup" || type == "cgroup2") points.push_back(point);
  }
  return points;
}

}  // namespace

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::optional<ProcessInfo> read_process(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string stat = read_text(base + "/stat");
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= stat.size()) return std::nullopt;
  ProcessInfo info;
  info.pid = pid;
  std::istringstream fields(stat.substr(close_paren + 2));
  std::vector<std::string> rest;
  std::string field;
  while (fields >> field) rest.push_back(field);
  // rest[0] is field 3 (state); field N is rest[N - 3].
  if (rest.size() < 20) return std::nullopt;
  info.state = rest[0][0];
  info.ppid = std::stoi(rest[1]);
  info.start_time = std::stoull(rest[19]);
  info.cpu_ticks = std::stoull(rest[11]) + std::stoull(rest[12]);
  std::string comm = read_text(base + "/comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  info.comm = comm;
  std::istringstream status(read_text(base + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream values(line.substr(line.find(':') + 1));
    if (line.rfind("Uid:", 0) == 0) {
      values >> info.uid >> info.euid;
    } else if (line.rfind("Gid:", 0) == 0) {
      values >> info.gid;
    } else if (line.rfind("NSpid:", 0) == 0) {
      pid_t value;
      while (values >> value) info.nspid.push_back(value);
    } else if (line.rfind("VmRSS:", 0) == 0) {
      values >> info.rss_kb;
    }
  }
  return info;
}

std::vector<ProcessInfo> all_processes() {
  std::vector<ProcessInfo> processes;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (auto info = read_process(std::stoi(name))) processes.push_back(std::move(*info));
  }
  return processes;
}

std::vector<ProcessInfo> processes_named(const std::string& comm) {
  std::vector<ProcessInfo> found;
  for (auto& process : all_processes())
    if (process.comm == comm) found.push_back(std::move(process));
  return found;
}

std::vector<ProcessInfo> processes_with_prefix(const std::string& comm_prefix) {
  std::vector<ProcessInfo> found;
  for (auto& process : all_processes())
    if (process.comm.rfind(comm_prefix, 0) == 0) found.push_back(std::move(process));
  return found;
}

std::vector<ProcessInfo> descendants(pid_t root) {
  auto processes = all_processes();
  std::multimap<pid_t, size_t> children;
  for (size_t i = 0; i < processes.size(); ++i) children.emplace(processes[i].ppid, i);
  std::vector<ProcessInfo> found;
  std::vector<pid_t> frontier{root};
  std::set<pid_t> seen{root};
  while (!frontier.empty()) {
    pid_t parent = frontier.back();
    frontier.pop_back();
    auto [begin, end] = children.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      const ProcessInfo& child = processes[it->second];
      if (!seen.insert(child.pid).second) continue;
      found.push_back(child);
      frontier.push_back(child.pid);
    }
  }
  return found;
}

bool alive(const ProcessInfo& process) {
  auto now = read_process(process.pid);
  return now && now->start_time == process.start_time && now->state != 'Z' && now->state != 'X';
}

std::string process_cmdline(pid_t pid) {
  std::string text = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

std::string cgroup_of(pid_t pid, const std::string& controller) {
  std::istringstream lines(read_text("/proc/" + std::to_string(pid) + "/cgroup"));
  std::string line;
  while (std::getline(lines, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controller.empty()) {
      if (controllers.empty() && line.rfind("0:", 0) == 0) return path;
      continue;
    }
    std::istringstream names(controllers);
    std::string name;
    while (std::getline(names, name, ','))
      if (name == controller) return path;
  }
  return {};
}

std::string namespace_of(pid_t pid, const std::string& name) {
  std::error_code error;
  auto target =
      std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + name, error);
  return error ? std::string() : target.string();
}

std::string device_of(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return {};
  return std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
}

int kill_processes_with_prefix(const std::string& comm_prefix) {
  int killed = 0;
  for (const auto& process : processes_with_prefix(comm_prefix)) {
    if (process.state == 'Z') continue;
    if (kill(process.pid, SIGKILL) == 0) ++killed;
  }
  return killed;
}

std::string random_hex(size_t n) {
  std::string bytes = std::string((n + 1) / 2, '\0');
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    [[maybe_unused]] auto got = read(fd, bytes.data(), bytes.size());
    close(fd);
  }
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  out.resize(n);
  return out;
}

namespace {

// In a child just forked: become uid/gid with no groups and no capabilities.
// Raw system calls: the test process may have threads, and glibc's wrappers
// would try to broadcast the change to them.
bool become(uid_t uid, gid_t gid) {
  return syscall(SYS_setgroups, 0, nullptr) == 0 && syscall(SYS_setresgid, gid, gid, gid) == 0 &&
         syscall(SYS_setresuid, uid, uid, uid) == 0;
}

}  // namespace

pid_t start_sleeper_as(uid_t uid, gid_t gid, const std::string& comm) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (!become(uid, gid)) _exit(1);
    // After the id change, which clears it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, comm.c_str(), 0, 0, 0);
    for (;;) pause();
  }
  bool ready = wait_until(
      [&] {
        auto info = read_process(pid);
        return info && info->uid == uid && info->comm == comm;
      },
      std::chrono::seconds(10));
  if (!ready) {
    stop_sleeper(pid);
    return -1;
  }
  return pid;
}

void stop_sleeper(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

std::string run_as(uid_t uid, gid_t gid, const std::function<std::string()>& body) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    close(out[0]);
    if (!become(uid, gid)) _exit(1);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::string text = body();
    [[maybe_unused]] auto n = write(out[1], text.data(), text.size());
    _exit(0);
  }
  close(out[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(out[0], buffer, sizeof buffer)) > 0) text.append(buffer, n);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    text += " (child ended with status " + std::to_string(status) + ")";
  return text;
}

void for_each_directory_under(const std::string& root,
                              const std::function<bool(const std::string&)>& visit) {
  std::vector<std::string> pending{root};
  while (!pending.empty()) {
    const std::string dir = pending.back();
    pending.pop_back();
    std::error_code error;
    std::filesystem::directory_iterator it(
        dir, std::filesystem::directory_options::skip_permission_denied, error);
    // A directory removed since it was listed: nothing below it to see.
    if (error) continue;
    for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
      // Reading a directory that is being removed may fail; its entries
      // are gone with it, and the walk of its siblings goes on.
      if (error) break;
      std::error_code type_error;
      if (!it->is_directory(type_error) || type_error) continue;
      const std::string path = it->path().string();
      if (visit(path)) pending.push_back(path);
    }
  }
}

std::vector<std::string> cgroup_dirs_named(const std::string& name) {
  std::vector<std::string> found;
  for (const auto& point : cgroup_mount_points()) {
    for_each_directory_under(point, [&](const std::string& path) {
      if (std::filesystem::path(path).filename() != name) return true;
      found.push_back(path);
      return false;  // its own tree is the caller's, whole
    });
  }
  return found;
}

int remove_cgroup_trees_named(const std::string& name) {
  int removed = 0;
  for (const auto& top : cgroup_dirs_named(name)) {
    std::vector<std::string> dirs;
    for_each_directory_under(top, [&](const std::string& path) {
      dirs.push_back(path);
      return true;
    });
    // Deepest first.
    std::sort(dirs.begin(), dirs.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    dirs.push_back(top);
    for (const auto& dir : dirs) removed += rmdir(dir.c_str()) == 0;
  }
  return removed;
}

}  // namespace sprout::testing
