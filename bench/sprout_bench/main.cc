// sprout-bench: cold-start, throughput and density of sprout, side by side
// with the tools a user would pick instead, in one run on one machine.
//
//   sprout-bench [--start-daemon | --socket PATH] [--workloads hello,imports,thumbnail,native]
//                [--modes cold,pooled,plain,bwrap,runc,crun,criu] [--invocations N] [--warmup N]
//                [--concurrency C] [--pace-ms N] [--throughput SECONDS] [--density N] [--out DIR]
//
// Latency is measured by the caller, per invocation, through the Unix socket
// for sprout and around fork+exec+wait for the peers; tables give p50, p90,
// p99, max, invocations/s and each mode's p50 over sprout-cold's p50.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "bench/sprout_bench/measure.h"
#include "bench/sprout_bench/peers.h"
#include "sprout/client.h"

namespace sprout::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string socket = default_socket_path();
  bool start_daemon = false;
  std::vector<std::string> workloads{"hello", "imports", "thumbnail", "native"};
  std::vector<std::string> modes{"cold", "pooled", "plain", "bwrap", "runc", "crun", "criu"};
  int invocations = 200, warmup = 10, concurrency = 1, pace_ms = 10;
  int throughput_seconds = 0, density = 0;
  std::string out = "sprout-bench-results";
};

struct Workload {
  std::string name;
  api::Runtime runtime;
  std::string code_dir, file, handler, payload;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ','))
    if (!part.empty()) parts.push_back(part);
  return parts;
}

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void progress(const std::string& text) {
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
}

// ---- the daemon ----

struct Daemon {
  pid_t pid = -1;
  std::string dir;
  ~Daemon() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    if (!dir.empty()) fs::remove_all(dir);
  }
};

bool start_daemon(Options& options, Daemon& daemon, int max_live) {
  char pattern[] = "/tmp/sprout-bench-XXXXXX";
  if (!mkdtemp(pattern)) return false;
  daemon.dir = pattern;
  options.socket = daemon.dir + "/sprout.sock";
  int ready[2];
  if (pipe(ready) != 0) return false;
  daemon.pid = fork();
  if (daemon.pid == 0) {
    // The daemon this run started ends with it, even if the run crashes.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(ready[1], STDOUT_FILENO);
    std::string log = daemon.dir + "/sproutd.log";
    int log_fd = open(log.c_str(), O_WRONLY | O_CREAT, 0644);
    dup2(log_fd, STDERR_FILENO);
    std::string live = std::to_string(max_live), queue = std::to_string(max_live * 4);
    execl(SPROUT_BENCH_SPROUTD, "sproutd", "--socket", options.socket.c_str(), "--state-dir",
          (daemon.dir + "/state").c_str(), "--max-live-sandboxes", live.c_str(), "--max-queue",
          queue.c_str(), "--queue-timeout-ms", "60000", nullptr);
    _exit(127);
  }
  close(ready[1]);
  char line[256] = {};
  bool ok = read(ready[0], line, sizeof line - 1) > 0 &&
            std::string(line).find("ready") != std::string::npos;
  close(ready[0]);
  return ok;
}

// Runs `count` calls of `one(caller, index)` from `concurrency` threads and
// returns every sample and the wall time.
template <typename Setup, typename One>
std::vector<Sample> run_callers(int concurrency, int count, const std::string& label, Setup setup,
                                One one, double* wall) {
  std::vector<std::vector<Sample>> per_caller(concurrency);
  std::atomic<int> next{0};
  auto begin = Clock::now();
  std::vector<std::thread> callers;
  for (int c = 0; c < concurrency; ++c) {
    callers.emplace_back([&, c] {
      auto state = setup();
      for (int i; (i = next++) < count;) {
        per_caller[c].push_back(one(state, i));
        if (c == 0 && i % 5 == 0)
          progress(label + ": " + std::to_string(i) + "/" + std::to_string(count));
      }
    });
  }
  for (auto& caller : callers) caller.join();
  *wall = std::chrono::duration<double>(Clock::now() - begin).count();
  std::vector<Sample> samples;
  for (auto& part : per_caller) samples.insert(samples.end(), part.begin(), part.end());
  return samples;
}

// ---- sprout modes ----

bool deploy(Client& client, const Workload& w, const std::string& name, bool prefork, uint32_t pool,
            uint32_t concurrency, uint32_t timeout_ms = 10000) {
  api::FunctionSpec spec;
  spec.set_name(name);
  spec.set_runtime(w.runtime);
  spec.set_handler(w.handler);
  spec.set_code(read_file(w.code_dir + "/" + w.file));
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name(w.file);
  spec.set_memory_mb(256);
  spec.set_timeout_ms(timeout_ms);
  spec.set_max_concurrency(std::max<uint32_t>(concurrency, 1));
  if (prefork) {
    spec.set_prefork_min(pool);
    spec.set_prefork_max(pool);
  } else {
    spec.set_no_prefork(true);
  }
  auto deployed = client.deploy(spec);
  if (!deployed)
    std::fprintf(stderr, "\ndeploy %s: %s\n", name.c_str(), deployed.error().message.c_str());
  return deployed.has_value();
}

Sample invoke_sample(Client& client, const std::string& function, const Workload& w,
                     const std::string& mode) {
  Sample sample{w.name, mode};
  auto begin = Clock::now();
  auto response = client.invoke(function, w.payload);
  sample.latency_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count();
  if (!response || response->status() != api::OK) {
    sample.ok = false;
    sample.error = response ? api::Status_Name(response->status()) + ": " + response->detail()
                            : response.error().message;
    return sample;
  }
  const auto& m = response->metrics();
  sample.queue_us = m.queue_us();
  sample.fork_us = m.fork_us();
  sample.run_us = m.run_us();
  sample.daemon_total_us = m.total_us();
  return sample;
}

// `concurrency` callers, each on its own connection, run invocations back
// to back (pooled mode: paced, so that the pool refills off the critical path).
std::vector<Sample> run_sprout(const Options& o, const Workload& w, const std::string& mode,
                               double* wall) {
  const std::string function = "bench-" + w.name + "-" + mode;
  {
    auto client = Client::connect(o.socket);
    if (!client || !deploy(**client, w, function, mode == "pooled", std::max(2, o.concurrency * 2),
                           static_cast<uint32_t>(o.concurrency))) {
      return {};
    }
    for (int i = 0; i < o.warmup; ++i) invoke_sample(**client, function, w, mode);
  }
  auto samples = run_callers(
      o.concurrency, o.invocations, w.name + " " + mode, [&] { return Client::connect(o.socket); },
      [&](ClientResult<std::unique_ptr<Client>>& client, int) {
        if (!client) return Sample{w.name, mode, 0, 0, 0, 0, 0, false, client.error().message};
        if (mode == "pooled" && o.pace_ms > 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(o.pace_ms));
        return invoke_sample(**client, function, w, mode);
      },
      wall);
  // Pacing is not part of any invocation's latency, nor of the rate.
  if (mode == "pooled") *wall -= o.pace_ms / 1000.0 * o.invocations / o.concurrency;
  if (auto client = Client::connect(o.socket)) (void)(*client)->remove(function);
  return samples;
}

// ---- peers ----

std::vector<Sample> run_peer(const Options& o, Peer& peer, const PeerWorkload& w, double* wall) {
  for (int i = 0; i < std::min(o.warmup, 3); ++i) {
    std::string ignored;
    peer.run_once(w, &ignored);
  }
  const int count = std::max(10, o.invocations / 4);  // peers are slow: fewer samples
  return run_callers(
      o.concurrency, count, w.name + " " + peer.name(), [] { return 0; },
      [&](int, int) {
        Sample sample{w.name, peer.name()};
        auto start = Clock::now();
        sample.ok = peer.run_once(w, &sample.error);
        sample.latency_us =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
        return sample;
      },
      wall);
}

void print_table(const std::string& title, const std::vector<std::pair<std::string, Summary>>& rows,
                 const std::map<std::string, std::string>& skipped, double cold_p50) {
  std::printf("\n%s\n", title.c_str());
  std::printf("  %-14s %9s %9s %9s %9s %10s %8s %13s\n", "mode", "p50 ms", "p90 ms", "p99 ms",
              "max ms", "inv/s", "errors", "p50/cold p50");
  for (const auto& [mode, s] : rows) {
    std::printf("  %-14s %9.2f %9.2f %9.2f %9.2f %10.1f %8zu %12.1fx\n", mode.c_str(), s.p50_ms,
                s.p90_ms, s.p99_ms, s.max_ms, s.per_second, s.errors,
                cold_p50 > 0 ? s.p50_ms / cold_p50 : 0);
  }
  for (const auto& [mode, reason] : skipped)
    std::printf("  %-14s not measured: %s\n", mode.c_str(), reason.c_str());
}

// ---- throughput and density ----

void run_throughput(const Options& o, const Workload& w) {
  const std::string function = "bench-throughput-" + w.name;
  auto setup = Client::connect(o.socket);
  if (!setup || !deploy(**setup, w, function, false, 0, static_cast<uint32_t>(o.concurrency)))
    return;
  std::atomic<uint64_t> ok{0}, errors{0};
  std::string first_error;
  std::mutex error_mutex;
  const auto end = Clock::now() + std::chrono::seconds(o.throughput_seconds);
  auto begin = Clock::now();
  std::vector<std::thread> callers;
  for (int c = 0; c < o.concurrency; ++c) {
    callers.emplace_back([&] {
      auto client = Client::connect(o.socket);
      while (client && Clock::now() < end) {
        auto response = (*client)->invoke(function, w.payload);
        if (response && response->status() == api::OK && !response->metrics().preforked()) {
          ++ok;
        } else {
          ++errors;
          std::lock_guard lock(error_mutex);
          if (first_error.empty())
            first_error = response ? response->detail() : response.error().message;
        }
      }
    });
  }
  for (auto& caller : callers) caller.join();
  double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  progress("");
  std::printf(
      "\nthroughput %s (%s): %.0f fresh sandboxes/s at concurrency %d for %.1f s: %llu "
      "invocations, %llu errors%s\n",
      w.name.c_str(), w.runtime == api::NATIVE ? "native" : "python3", ok / seconds, o.concurrency,
      seconds, static_cast<unsigned long long>(ok.load()),
      static_cast<unsigned long long>(errors.load()),
      first_error.empty() ? "" : (" (first: " + first_error + ")").c_str());
  (void)(*setup)->remove(function);
}

uint64_t meminfo_kb(const char* key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  uint64_t value;
  std::string unit;
  while (in >> name >> value >> unit)
    if (name == key) return value;
  return 0;
}

// Memory charged to every sproutd's sandbox cgroups (memory controller).
uint64_t sandbox_cgroup_bytes() {
  uint64_t total = 0;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator("/sys/fs/cgroup/memory", error);
       it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;
    if (it->is_directory() && it->path().filename().string().rfind("sproutd-", 0) == 0) {
      std::ifstream usage(it->path() / "memory.usage_in_bytes");
      uint64_t bytes = 0;
      usage >> bytes;
      total += bytes;
      it.disable_recursion_pending();
    }
  }
  return total;
}

void run_density(const Options& o, const Workload& base) {
  Workload sleeper = base;
  sleeper.name = "sleeper";
  sleeper.handler = "handler.handler";
  sleeper.code_dir = o.out;
  sleeper.file = "handler.py";
  std::ofstream(o.out + "/handler.py") << "import time\ndef handler(event, context):\n    "
                                          "time.sleep(event['seconds'])\n    return 'rested'\n";
  const int seconds = 20;
  sleeper.payload = "{\"seconds\": " + std::to_string(seconds) + "}";
  const std::string function = "bench-density";
  auto setup = Client::connect(o.socket);
  if (!setup ||
      !deploy(**setup, sleeper, function, false, 0, static_cast<uint32_t>(o.density), 120000))
    return;
  (void)(*setup)->invoke(function, "{\"seconds\": 0}");  // the function's snapshot is ready
  const uint64_t available_before = meminfo_kb("MemAvailable:");
  const uint64_t cgroups_before = sandbox_cgroup_bytes();
  std::vector<std::unique_ptr<Client>> connections;
  std::vector<std::future<ClientResult<api::InvokeResponse>>> calls;
  for (int i = 0; i < o.density; ++i) {
    if (i % 100 == 0) connections.push_back(std::move(*Client::connect(o.socket)));
    calls.push_back(connections.back()->invoke_async(function, sleeper.payload));
  }
  uint32_t live = 0;
  auto deadline = Clock::now() + std::chrono::seconds(seconds - 2);
  while (Clock::now() < deadline) {
    live = (*setup)->health()->live_sandboxes();
    progress("density: " + std::to_string(live) + "/" + std::to_string(o.density) +
             " sandboxes sleeping");
    if (live >= static_cast<uint32_t>(o.density)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const uint64_t available_after = meminfo_kb("MemAvailable:");
  const uint64_t cgroups_after = sandbox_cgroup_bytes();
  const double extra_mib = (static_cast<double>(available_before) - available_after) / 1024.0;
  const double cgroup_mib = (static_cast<double>(cgroups_after) - cgroups_before) / 1048576.0;
  progress("");
  std::printf(
      "\ndensity: %u of %d sandboxes sleeping at once: %.0f MiB extra memory in all "
      "(MemAvailable), %.2f MiB per sandbox;"
      " their cgroups account %.0f MiB (%.2f MiB per sandbox)\n",
      live, o.density, extra_mib, extra_mib / std::max<uint32_t>(live, 1), cgroup_mib,
      cgroup_mib / std::max<uint32_t>(live, 1));
  size_t ok = 0;
  for (auto& call : calls) {
    auto response = call.get();
    ok += response && response->status() == api::OK;
  }
  std::printf("density: %zu of %d invocations answered OK\n", ok, o.density);
  (void)(*setup)->remove(function);
}

int usage() {
  std::fprintf(stderr,
               "usage: sprout-bench [--start-daemon | --socket PATH] [--workloads "
               "hello,imports,thumbnail,native]\n"
               "                    [--modes cold,pooled,plain,bwrap,runc,crun,criu] "
               "[--invocations N] [--warmup N]\n"
               "                    [--concurrency C] [--pace-ms N] [--throughput SECONDS] "
               "[--density N] [--out DIR]\n");
  return 2;
}

}  // namespace
}  // namespace sprout::bench

int main(int argc, char** argv) {
  using namespace sprout::bench;
  namespace api = sprout::api;
  // A peer that fails before reading its stdin must not kill the run.
  signal(SIGPIPE, SIG_IGN);
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--start-daemon") {
      o.start_daemon = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    std::string value = argv[++i];
    if (arg == "--socket")
      o.socket = value;
    else if (arg == "--workloads")
      o.workloads = split(value);
    else if (arg == "--modes")
      o.modes = split(value);
    else if (arg == "--invocations")
      o.invocations = std::stoi(value);
    else if (arg == "--warmup")
      o.warmup = std::stoi(value);
    else if (arg == "--concurrency")
      o.concurrency = std::max(1, std::stoi(value));
    else if (arg == "--pace-ms")
      o.pace_ms = std::stoi(value);
    else if (arg == "--throughput")
      o.throughput_seconds = std::stoi(value);
    else if (arg == "--density")
      o.density = std::stoi(value);
    else if (arg == "--out")
      o.out = value;
    else
      return usage();
  }
  fs::create_directories(o.out);
  o.out = fs::canonical(o.out);
  Daemon daemon;
  if (o.start_daemon && !start_daemon(o, daemon, std::max(256, o.density + 16))) {
    std::fprintf(stderr, "sprout-bench: could not start sproutd (log in %s)\n", daemon.dir.c_str());
    return 1;
  }
  if (!sprout::Client::connect(o.socket)) {
    std::fprintf(stderr, "sprout-bench: sproutd is not running at %s (or use --start-daemon)\n",
                 o.socket.c_str());
    return 1;
  }

  const std::string workloads_dir = SPROUT_BENCH_WORKLOADS;
  // The thumbnail's input: a 1024x768 JPEG made with Pillow.
  const std::string jpeg_event = o.out + "/thumbnail-event.json";
  std::string make_error;
  if (has(o.workloads, "thumbnail") &&
      run_command({"/usr/bin/python3.11", workloads_dir + "/make_jpeg.py", jpeg_event}, "",
                  &make_error) != 0) {
    std::fprintf(stderr, "sprout-bench: cannot make the thumbnail input: %s\n", make_error.c_str());
    return 1;
  }
  const std::string native_dir = fs::path(SPROUT_BENCH_NATIVE_HELLO).parent_path();
  std::map<std::string, Workload> known = {
      {"hello",
       {"hello", api::PYTHON3, workloads_dir + "/hello", "handler.py", "handler.handler", "{}"}},
      {"imports",
       {"imports", api::PYTHON3, workloads_dir + "/imports", "handler.py", "handler.handler",
        "{}"}},
      {"thumbnail",
       {"thumbnail", api::PYTHON3, workloads_dir + "/thumbnail", "handler.py", "handler.handler",
        has(o.workloads, "thumbnail") ? read_file(jpeg_event) : ""}},
      {"native", {"native", api::NATIVE, native_dir, "hello.so", "hello.so", "{}"}},
  };
  PeerPaths paths{SPROUT_BENCH_PYTHON_RUNNER, SPROUT_BENCH_NATIVE_RUNNER, o.out};

  std::printf(
      "sprout-bench: %u cores, sproutd at %s, %d invocations per sprout mode (peers: %d), "
      "concurrency %d\n",
      std::thread::hardware_concurrency(), o.socket.c_str(), o.invocations,
      std::max(10, o.invocations / 4), o.concurrency);
  std::vector<Sample> all;
  for (const auto& name : o.workloads) {
    if (!known.count(name)) {
      std::fprintf(stderr, "sprout-bench: unknown workload %s\n", name.c_str());
      return usage();
    }
    const Workload& w = known[name];
    std::vector<std::pair<std::string, Summary>> rows;
    std::map<std::string, std::string> skipped;
    std::vector<Sample> samples;
    double cold_p50 = 0;
    for (const std::string mode : {"cold", "pooled"}) {
      if (!has(o.modes, mode)) continue;
      double wall = 0;
      auto measured = run_sprout(o, w, mode, &wall);
      if (measured.empty()) {
        skipped["sprout-" + std::string(mode)] = "deploy failed";
        continue;
      }
      for (auto& s : measured) s.mode = "sprout-" + std::string(mode);
      Summary summary = summarize(measured, wall);
      if (std::string(mode) == "cold") cold_p50 = summary.p50_ms;
      rows.emplace_back("sprout-" + std::string(mode), summary);
      samples.insert(samples.end(), measured.begin(), measured.end());
    }
    PeerWorkload peer_workload{w.name, w.code_dir, w.runtime == api::NATIVE, "hello.so", w.payload};
    for (const auto& peer_name : all_peer_names()) {
      if (!has(o.modes, peer_name)) continue;
      Peer peer(peer_name, paths);
      std::string reason;
      progress(w.name + " " + peer_name + ": checking");
      if (!peer.available(peer_workload, &reason)) {
        skipped[peer_name] = reason;
        continue;
      }
      double wall = 0;
      auto measured = run_peer(o, peer, peer_workload, &wall);
      rows.emplace_back(peer_name, summarize(measured, wall));
      samples.insert(samples.end(), measured.begin(), measured.end());
    }
    progress("");
    print_table("workload " + w.name + (w.runtime == api::NATIVE ? " (native)" : " (python3)"),
                rows, skipped, cold_p50);
    for (const char* mode_name : {"sprout-cold", "sprout-pooled"}) {
      const std::string mode = mode_name;
      std::vector<uint64_t> queue, fork, run, total, latency;
      for (const auto& s : samples) {
        if (s.mode != mode || !s.ok) continue;
        queue.push_back(s.queue_us);
        fork.push_back(s.fork_us);
        run.push_back(s.run_us);
        total.push_back(s.daemon_total_us);
        latency.push_back(s.latency_us);
      }
      if (latency.empty()) continue;
      std::printf(
          "  %s phases (medians): queue %llu us, fork %llu us, init 0 us (in the snapshot), run "
          "%llu us;"
          " sproutd total %llu us of %llu us seen by the client\n",
          mode.c_str(), (unsigned long long)median(queue), (unsigned long long)median(fork),
          (unsigned long long)median(run), (unsigned long long)median(total),
          (unsigned long long)median(latency));
    }
    write_cdf_svg(o.out + "/cdf-" + w.name + ".svg", "workload " + w.name, samples);
    all.insert(all.end(), samples.begin(), samples.end());
  }
  write_csv(o.out + "/samples.csv", all);
  if (o.throughput_seconds > 0) {
    for (const auto& name : o.workloads) {
      if (name == "hello" || name == "native") run_throughput(o, known[name]);
    }
  }
  if (o.density > 0) run_density(o, known["hello"]);
  std::printf("\nsamples: %s/samples.csv; CDF plots: %s/cdf-<workload>.svg\n", o.out.c_str(),
              o.out.c_str());
  size_t errors = 0;
  for (const auto& s : all) errors += !s.ok;
  return errors == 0 ? 0 : 3;
}
