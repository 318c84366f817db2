#include "supervisor/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "base/file_io.h"

namespace sprout::supervisor {
namespace {

std::vector<std::string_view> split_spaces(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t at = 0;
  while (at < text.size()) {
    const size_t start = text.find_first_not_of(" \n", at);
    if (start == std::string_view::npos) break;
    const size_t end = text.find_first_of(" \n", start);
    fields.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    at = end == std::string_view::npos ? text.size() : end;
  }
  return fields;
}

bool parse_number(std::string_view text, uint64_t* value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

// Entries of /proc/self/fd, less the one the listing itself holds open.
Result<uint64_t> count_open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return os_error("open", "/proc/self/fd");
  uint64_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);  // a failure to close a directory stream of /proc loses nothing
  return count > 0 ? count - 1 : 0;
}

}  // namespace

Result<ProcessMetrics> parse_proc_stat(std::string_view stat, double ticks_per_second,
                                       uint64_t page_size, double boot_time_seconds) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // the fields start after the last ')'. Field 3 (state) is index 0 then.
  const size_t comm_end = stat.rfind(')');
  if (comm_end == std::string_view::npos)
    return plain_error("parse /proc/self/stat", "no command name");
  const std::vector<std::string_view> fields = split_spaces(stat.substr(comm_end + 1));
  auto field = [&](int number, uint64_t* value) {
    const size_t index = static_cast<size_t>(number - 3);
    return index < fields.size() && parse_number(fields[index], value);
  };
  uint64_t utime = 0, stime = 0, threads = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
  if (!field(14, &utime) || !field(15, &stime) || !field(20, &threads) ||
      !field(22, &start_ticks) || !field(23, &vsize) || !field(24, &rss_pages))
    return plain_error("parse /proc/self/stat", "fields missing or not numbers");
  ProcessMetrics metrics;
  metrics.cpu_seconds = static_cast<double>(utime + stime) / ticks_per_second;
  metrics.threads = threads;
  metrics.start_time_seconds = boot_time_seconds + static_cast<double>(start_ticks) / ticks_per_second;
  metrics.virtual_memory_bytes = vsize;
  metrics.resident_memory_bytes = rss_pages * page_size;
  return metrics;
}

Result<double> parse_boot_time(std::string_view proc_stat) {
  for (size_t at = 0; at < proc_stat.size();) {
    const size_t end = proc_stat.find('\n', at);
    const std::string_view line =
        proc_stat.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    uint64_t seconds = 0;
    if (line.starts_with("btime ") && parse_number(line.substr(6), &seconds))
      return static_cast<double>(seconds);
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return plain_error("parse /proc/stat", "no btime line");
}

Result<ProcessMetrics> read_process_metrics() {
  auto stat = read_whole_file("/proc/self/stat");
  if (!stat) return std::unexpected(stat.error());
  auto machine = read_whole_file("/proc/stat");
  if (!machine) return std::unexpected(machine.error());
  auto boot_time = parse_boot_time(*machine);
  if (!boot_time) return std::unexpected(boot_time.error());
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (ticks <= 0 || page_size <= 0) return plain_error("sysconf", "no clock tick or page size");
  auto metrics = parse_proc_stat(*stat, static_cast<double>(ticks),
                                 static_cast<uint64_t>(page_size), *boot_time);
  if (!metrics) return metrics;
  auto fds = count_open_fds();
  if (!fds) return std::unexpected(fds.error());
  metrics->open_fds = *fds;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return os_error("getrlimit", "RLIMIT_NOFILE");
  metrics->max_fds = limit.rlim_cur == RLIM_INFINITY ? HUGE_VAL : static_cast<double>(limit.rlim_cur);
  return metrics;
}

}  // namespace sprout::supervisor
