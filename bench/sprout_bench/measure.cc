#include "bench/sprout_bench/measure.h"

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace sprout::bench {

uint64_t median(std::vector<uint64_t> values) {
  if (values.empty()) return 0;
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

Summary summarize(const std::vector<Sample>& samples, double wall_seconds) {
  Summary summary;
  std::vector<uint64_t> latencies;
  for (const auto& sample : samples) {
    ++summary.count;
    if (!sample.ok) {
      ++summary.errors;
      continue;
    }
    latencies.push_back(sample.latency_us);
  }
  if (latencies.empty()) return summary;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    size_t index = static_cast<size_t>(std::ceil(q * latencies.size())) - 1;
    return latencies[std::min(index, latencies.size() - 1)] / 1000.0;
  };
  summary.p50_ms = at(0.50);
  summary.p90_ms = at(0.90);
  summary.p99_ms = at(0.99);
  summary.max_ms = latencies.back() / 1000.0;
  summary.per_second = wall_seconds > 0 ? summary.count / wall_seconds : 0;
  return summary;
}

void write_csv(const std::string& path, const std::vector<Sample>& samples, bool append) {
  std::error_code ignored;
  const bool header = !append || !std::filesystem::exists(path, ignored);
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  if (header) {
    out << "workload,mode,latency_us,queue_us,fork_us,run_us,daemon_total_us,minor_faults,"
           "major_faults,context_switches,ok,error,preforked\n";
  }
  for (const auto& s : samples) {
    std::string error = s.error;
    std::replace(error.begin(), error.end(), ',', ';');
    std::replace(error.begin(), error.end(), '\n', ' ');
    out << s.workload << ',' << s.mode << ',' << s.latency_us << ',' << s.queue_us << ','
        << s.fork_us << ',' << s.run_us << ',' << s.daemon_total_us << ',' << s.minor_faults << ','
        << s.major_faults << ',' << s.context_switches << ',' << (s.ok ? 1 : 0) << ','
        << error << ',' << (s.preforked ? 1 : 0) << '\n';
  }
}

void write_cdf_svg(const std::string& path, const std::string& title,
                   const std::vector<Sample>& samples) {
  std::map<std::string, std::vector<double>> by_mode;
  for (const auto& s : samples) {
    if (s.ok) by_mode[s.mode].push_back(s.latency_us / 1000.0);
  }
  double low = 1e9, high = 0;
  for (auto& [mode, values] : by_mode) {
    std::sort(values.begin(), values.end());
    low = std::min(low, values.front());
    high = std::max(high, values.back());
  }
  if (by_mode.empty()) return;
  low = std::pow(10, std::floor(std::log10(std::max(low, 0.01))));
  high = std::pow(10, std::ceil(std::log10(std::max(high, low * 10))));
  const double width = 760, height = 420, left = 70, right = 190, top = 40, bottom = 50;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  auto x_of = [&](double ms) {
    return left +
           plot_w * (std::log10(ms) - std::log10(low)) / (std::log10(high) - std::log10(low));
  };
  auto y_of = [&](double q) { return top + plot_h * (1 - q); };
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                          "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  std::ofstream out(path);
  out << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' "
         "fill='white'/>\n";
  out << "<text x='" << left << "' y='24' font-size='15'>" << title
      << " - latency CDF (log scale)</text>\n";
  for (double decade = low; decade <= high * 1.0001; decade *= 10) {
    double x = x_of(decade);
    out << "<line x1='" << x << "' y1='" << top << "' x2='" << x << "' y2='" << top + plot_h
        << "' stroke='#ddd'/>\n";
    out << "<text x='" << x << "' y='" << top + plot_h + 16 << "' text-anchor='middle'>" << decade
        << " ms</text>\n";
  }
  for (double q = 0; q <= 1.0001; q += 0.25) {
    out << "<line x1='" << left << "' y1='" << y_of(q) << "' x2='" << left + plot_w << "' y2='"
        << y_of(q) << "' stroke='#eee'/>\n<text x='" << left - 8 << "' y='" << y_of(q) + 4
        << "' text-anchor='end'>" << q << "</text>\n";
  }
  out << "<text x='" << left + plot_w / 2 << "' y='" << height - 10
      << "' text-anchor='middle'>latency per invocation</text>\n";
  int index = 0;
  for (const auto& [mode, values] : by_mode) {
    const char* color = colors[index % 8];
    out << "<polyline fill='none' stroke='" << color << "' stroke-width='2' points='";
    for (size_t i = 0; i < values.size(); ++i) {
      out << x_of(std::max(values[i], low)) << ','
          << y_of(static_cast<double>(i + 1) / values.size()) << ' ';
    }
    out << "'/>\n";
    double legend_y = top + 16 + 18 * index;
    out << "<line x1='" << width - right + 15 << "' y1='" << legend_y << "' x2='"
        << width - right + 40 << "' y2='" << legend_y << "' stroke='" << color
        << "' stroke-width='3'/>\n<text x='" << width - right + 46 << "' y='" << legend_y + 4
        << "'>" << mode << "</text>\n";
    ++index;
  }
  out << "</svg>\n";
}

namespace {

// The value (in kB) of the first line of `path` that starts with `key`.
bool read_kb(const std::string& path, const std::string& key, uint64_t* kb) {
  std::ifstream in(path);
  if (!in) return false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0) {
      *kb = std::strtoull(line.c_str() + key.size(), nullptr, 10);
      return true;
    }
  }
  return false;
}

}  // namespace

ProcessTree process_tree(pid_t root, bool with_pss) {
  // PPid of every process: the 4th field of /proc/PID/stat, after the
  // command name in parentheses (which may itself hold spaces and ')').
  std::multimap<pid_t, pid_t> children;
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end) continue;
      std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
      std::string text;
      if (!std::getline(stat, text)) continue;  // ended meanwhile
      const size_t paren = text.rfind(')');
      if (paren == std::string::npos) continue;
      std::istringstream rest(text.substr(paren + 1));
      std::string state;
      long ppid = 0;
      if (rest >> state >> ppid)
        children.emplace(static_cast<pid_t>(ppid), static_cast<pid_t>(pid));
    }
    closedir(proc);
  }
  ProcessTree tree;
  std::vector<pid_t> pending{root};
  while (!pending.empty()) {
    const pid_t parent = pending.back();
    pending.pop_back();
    auto [first, last] = children.equal_range(parent);
    for (auto it = first; it != last; ++it) {
      if (tree.pss_kb.count(it->second)) continue;
      uint64_t pss = 0;
      if (with_pss &&
          !read_kb("/proc/" + std::to_string(it->second) + "/smaps_rollup", "Pss:", &pss)) {
        ++tree.unreadable;  // a zombie, or ended since the walk
      }
      tree.pss_kb[it->second] = pss;
      tree.total_pss_kb += pss;
      pending.push_back(it->second);
    }
  }
  if (with_pss) read_kb("/proc/" + std::to_string(root) + "/status", "VmRSS:", &tree.root_rss_kb);
  return tree;
}

std::string describe_process(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::string comm, cmdline, line;
  {
    std::ifstream in(dir + "/comm");
    std::getline(in, comm);
  }
  {
    std::ifstream whole(dir + "/cmdline");
    std::stringstream text;
    text << whole.rdbuf();
    cmdline = text.str();
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    while (!cmdline.empty() && cmdline.back() == ' ') cmdline.pop_back();
  }
  std::string uid = "?";
  std::ifstream status(dir + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      fields >> uid;
      break;
    }
  }
  if (comm.empty() && cmdline.empty()) return std::to_string(pid) + " (ended)";
  return std::to_string(pid) + " " + comm + " (uid " + uid +
         "): " + (cmdline.empty() ? "[no cmdline: zombie?]" : cmdline);
}

}  // namespace sprout::bench
