// sprout-bench: cold-start, throughput and density of sprout, side by side
// with the tools a user would pick instead, in one run on one machine.
//
//   sprout-bench [--start-daemon | --socket PATH] [--workloads hello,imports,thumbnail,native]
//                [--modes cold,pooled,plain,bwrap,runc,crun,criu] [--invocations N] [--warmup N]
//                [--concurrency C] [--pace-ms N] [--throughput SECONDS] [--density N]
//                [--functions N [--functions-tenant own|shared]] [--out DIR]
//
// Latency is measured by the caller, per invocation, through the Unix socket
// for sprout and around fork+exec+wait for the peers; tables give p50, p90,
// p99, max, invocations/s and each mode's p50 over sprout-cold's p50.
// --functions measures what a deployed function costs: deploy latency, the
// memory (PSS) of sproutd's processes per function, a first invocation of
// each, and that deleting them all leaves no process behind.
#include <fcntl.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "bench/sprout_bench/machine_probes.h"
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
  int invocations = 200, warmup = 10, concurrency = 1, pace_ms = 0;
  int throughput_seconds = 0, density = 0;
  int functions = 0;                     // --functions: deploy this many hello functions
  std::string functions_tenant = "own";  // own: a tenant each; shared: all in tenant "bench"
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
  static_cast<void>(std::fflush(stderr));  // progress only
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

// What this build's sproutd says to --help: the flags it knows.
std::string sproutd_help() {
  std::string text;
  if (FILE* pipe = popen("'" SPROUT_BENCH_SPROUTD "' --help 2>&1", "r")) {
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
    pclose(pipe);
  }
  return text;
}

bool start_daemon(Options& options, Daemon& daemon, int max_live) {
  char pattern[] = "/tmp/sprout-bench-XXXXXX";
  if (!mkdtemp(pattern)) return false;
  daemon.dir = pattern;
  options.socket = daemon.dir + "/sprout.sock";
  std::vector<std::string> flags = {"sproutd",
                                    "--socket",
                                    options.socket,
                                    "--state-dir",
                                    daemon.dir + "/state",
                                    "--max-live-sandboxes",
                                    std::to_string(max_live),
                                    "--max-queue",
                                    std::to_string(max_live * 4),
                                    "--queue-timeout-ms",
                                    "60000"};
  if (options.functions > 0) {
    // Nothing limits the number of functions as such; what could: the host
    // ids (one per zygote and one per snapshot) and the eviction of idle
    // snapshots in the middle of the measurement. Set where this sproutd
    // has the flag.
    const std::string help = sproutd_help();
    if (help.find("--snapshot-idle-ttl-s") != std::string::npos)
      flags.insert(flags.end(), {"--snapshot-idle-ttl-s", "0"});
    const uint64_t ids = 2 * uint64_t(options.functions) + 256;
    if (ids > 65536 && help.find("--host-id-count") != std::string::npos)
      flags.insert(flags.end(), {"--host-id-count", std::to_string(ids)});
  }
  std::vector<char*> args;
  for (auto& flag : flags) args.push_back(flag.data());
  args.push_back(nullptr);
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
    execv(SPROUT_BENCH_SPROUTD, args.data());
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

api::FunctionSpec make_spec(const Workload& workload, const std::string& name, bool prefork,
                            uint32_t pool, uint32_t concurrency, uint32_t timeout_ms) {
  api::FunctionSpec spec;
  spec.set_name(name);
  spec.set_runtime(workload.runtime);
  spec.set_handler(workload.handler);
  spec.set_code(read_file(workload.code_dir + "/" + workload.file));
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name(workload.file);
  spec.set_memory_mb(256);
  spec.set_timeout_ms(timeout_ms);
  spec.set_max_concurrency(std::max<uint32_t>(concurrency, 1));
  if (prefork) {
    // 0: the default deploy, whose pool sproutd sizes itself (Little's law).
    if (pool > 0) {
      spec.set_prefork_min(pool);
      spec.set_prefork_max(pool);
    }
  } else {
    spec.set_no_prefork(true);
  }
  return spec;
}

bool deploy(Client& client, const Workload& workload, const std::string& name, bool prefork,
            uint32_t pool, uint32_t concurrency, uint32_t timeout_ms = 10000) {
  auto deployed = client.deploy(make_spec(workload, name, prefork, pool, concurrency, timeout_ms));
  if (!deployed)
    std::fprintf(stderr, "\ndeploy %s: %s\n", name.c_str(), deployed.error().message.c_str());
  return deployed.has_value();
}

Sample invoke_sample(Client& client, const std::string& function, const Workload& workload,
                     const std::string& mode) {
  Sample sample{workload.name, mode};
  auto begin = Clock::now();
  auto response = client.invoke(function, workload.payload);
  sample.latency_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count();
  if (!response || response->status() != api::OK) {
    sample.ok = false;
    sample.error = response ? api::Status_Name(response->status()) + ": " + response->detail()
                            : response.error().message;
    return sample;
  }
  const auto& metrics = response->metrics();
  sample.queue_us = metrics.queue_us();
  sample.fork_us = metrics.fork_us();
  sample.run_us = metrics.run_us();
  sample.daemon_total_us = metrics.total_us();
  sample.minor_faults = metrics.minor_faults();
  sample.major_faults = metrics.major_faults();
  sample.context_switches =
      metrics.voluntary_context_switches() + metrics.involuntary_context_switches();
  sample.preforked = metrics.preforked();
  return sample;
}

// `concurrency` callers, each on its own connection, run invocations back
// to back (--pace-ms N: N ms apart). Pooled mode deploys with the default
// pre-fork settings: what a user who sets nothing gets.
std::vector<Sample> run_sprout(const Options& options, const Workload& workload,
                               const std::string& mode, double* wall) {
  const std::string function = "bench-" + workload.name + "-" + mode;
  {
    auto client = Client::connect(options.socket);
    if (!client ||
        !deploy(**client, workload, function, mode == "pooled", /*pool=*/0,
                static_cast<uint32_t>(options.concurrency))) {
      return {};
    }
    for (int i = 0; i < options.warmup; ++i) invoke_sample(**client, function, workload, mode);
  }
  auto samples = run_callers(
      options.concurrency, options.invocations, workload.name + " " + mode,
      [&] { return Client::connect(options.socket); },
      [&](ClientResult<std::unique_ptr<Client>>& client, int) {
        if (!client) {
          Sample failed{.workload = workload.name, .mode = mode};
          failed.ok = false;
          failed.error = client.error().message;
          return failed;
        }
        if (options.pace_ms > 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(options.pace_ms));
        return invoke_sample(**client, function, workload, mode);
      },
      wall);
  // Pacing is not part of any invocation's latency, nor of the rate.
  *wall -= options.pace_ms / 1000.0 * options.invocations / options.concurrency;
  if (auto client = Client::connect(options.socket)) (void)(*client)->remove(function);
  return samples;
}

// ---- peers ----

std::vector<Sample> run_peer(const Options& options, Peer& peer, const PeerWorkload& workload,
                             double* wall) {
  for (int i = 0; i < std::min(options.warmup, 3); ++i) {
    std::string ignored;
    peer.run_once(workload, &ignored);
  }
  const int count = std::max(10, options.invocations / 4);  // peers are slow: fewer samples
  return run_callers(
      options.concurrency, count, workload.name + " " + peer.name(), [] { return 0; },
      [&](int, int) {
        Sample sample{workload.name, peer.name()};
        auto start = Clock::now();
        sample.ok = peer.run_once(workload, &sample.error);
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

void run_throughput(const Options& options, const Workload& workload) {
  const std::string function = "bench-throughput-" + workload.name;
  auto setup = Client::connect(options.socket);
  if (!setup ||
      !deploy(**setup, workload, function, false, 0, static_cast<uint32_t>(options.concurrency)))
    return;
  std::atomic<uint64_t> ok{0}, errors{0};
  std::string first_error;
  std::mutex error_mutex;
  const auto end = Clock::now() + std::chrono::seconds(options.throughput_seconds);
  auto begin = Clock::now();
  std::vector<std::thread> callers;
  for (int c = 0; c < options.concurrency; ++c) {
    callers.emplace_back([&] {
      auto client = Client::connect(options.socket);
      while (client && Clock::now() < end) {
        auto response = (*client)->invoke(function, workload.payload);
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
      workload.name.c_str(), workload.runtime == api::NATIVE ? "native" : "python3", ok / seconds,
      options.concurrency, seconds, static_cast<unsigned long long>(ok.load()),
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
  // A walk by hand: sandboxes' cgroups come and go during the walk, and a
  // recursive_directory_iterator ends at the first one that vanished,
  // which would under-count.
  std::vector<fs::path> pending{"/sys/fs/cgroup/memory"};
  while (!pending.empty()) {
    const fs::path dir = pending.back();
    pending.pop_back();
    std::error_code error;
    fs::directory_iterator it(dir, error);
    if (error) continue;
    for (; it != fs::directory_iterator(); it.increment(error)) {
      if (error) break;
      std::error_code type_error;
      if (!it->is_directory(type_error)) continue;
      if (it->path().filename().string().rfind("sproutd-", 0) != 0) {
        pending.push_back(it->path());
        continue;
      }
      std::ifstream usage(it->path() / "memory.usage_in_bytes");
      uint64_t bytes = 0;
      usage >> bytes;
      total += bytes;
    }
  }
  return total;
}

void run_density(const Options& options, const Workload& base) {
  Workload sleeper = base;
  sleeper.name = "sleeper";
  sleeper.handler = "handler.handler";
  sleeper.code_dir = options.out;
  sleeper.file = "handler.py";
  std::ofstream(options.out + "/handler.py")
      << "import time\ndef handler(event, context):\n    "
         "time.sleep(event['seconds'])\n    return 'rested'\n";
  const int seconds = 20;
  sleeper.payload = "{\"seconds\": " + std::to_string(seconds) + "}";
  const std::string function = "bench-density";
  auto setup = Client::connect(options.socket);
  if (!setup ||
      !deploy(**setup, sleeper, function, false, 0, static_cast<uint32_t>(options.density), 120000))
    return;
  (void)(*setup)->invoke(function, "{\"seconds\": 0}");  // the function's snapshot is ready
  const uint64_t available_before = meminfo_kb("MemAvailable:");
  const uint64_t cgroups_before = sandbox_cgroup_bytes();
  std::vector<std::unique_ptr<Client>> connections;
  std::vector<std::future<ClientResult<api::InvokeResponse>>> calls;
  for (int i = 0; i < options.density; ++i) {
    if (i % 100 == 0) connections.push_back(std::move(*Client::connect(options.socket)));
    calls.push_back(connections.back()->invoke_async(function, sleeper.payload));
  }
  uint32_t live = 0;
  auto deadline = Clock::now() + std::chrono::seconds(seconds - 2);
  while (Clock::now() < deadline) {
    live = (*setup)->health()->live_sandboxes();
    progress("density: " + std::to_string(live) + "/" + std::to_string(options.density) +
             " sandboxes sleeping");
    if (live >= static_cast<uint32_t>(options.density)) break;
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
      live, options.density, extra_mib, extra_mib / std::max<uint32_t>(live, 1), cgroup_mib,
      cgroup_mib / std::max<uint32_t>(live, 1));
  size_t ok = 0;
  for (auto& call : calls) {
    auto response = call.get();
    ok += response && response->status() == api::OK;
  }
  std::printf("density: %zu of %d invocations answered OK\n", ok, options.density);
  (void)(*setup)->remove(function);
}

// ---- deployed functions: what each costs ----

// sproutd's pid: the peer credentials of a connection to its socket.
pid_t sproutd_pid_of(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) return -1;
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ucred peer{};
  socklen_t length = sizeof peer;
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0;
  close(fd);
  return ok ? peer.pid : -1;
}

// A string field by name, through reflection: FunctionSpec.tenant and
// FunctionInfo.tenant exist only from the version with per-tenant zygotes
// on, and sprout-bench builds against either version.
const google::protobuf::FieldDescriptor* string_field(const google::protobuf::Message& message,
                                                      const std::string& name) {
  const auto* field = message.GetDescriptor()->FindFieldByName(name);
  if (!field || field->is_repeated() ||
      field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING)
    return nullptr;
  return field;
}

std::string get_string_field(const google::protobuf::Message& message, const std::string& name) {
  const auto* field = string_field(message, name);
  return field ? message.GetReflection()->GetString(message, field) : "";
}

double kb_to_mib(double kb) { return kb / 1024.0; }

double ms_since(Clock::time_point begin) {
  return std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
}

// Waits until no sandbox runs and the number of sproutd's descendants has
// held still for `quiet` (earlier modes' sandboxes are reaped in the
// background), at most `limit`.
void settle(Client& client, pid_t daemon, std::chrono::milliseconds quiet,
            std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  size_t last = SIZE_MAX;
  auto since = Clock::now();
  while (Clock::now() < deadline) {
    auto health = client.health();
    const bool idle = health && health->live_sandboxes() == 0;
    const size_t count = daemon > 0 ? process_tree(daemon, false).count() : 0;
    if (!idle || count != last) {
      last = count;
      since = Clock::now();
    } else if (Clock::now() - since >= quiet) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Deploys options.functions hello functions without pre-fork, measures deploy
// latency and the PSS of sproutd's descendants before and after, invokes
// each once, deletes them all and waits for sproutd's process count to come
// back. Appends every call to `rows`; false when something failed or was
// left behind.
bool run_functions(const Options& options, const Workload& workload, pid_t daemon,
                   std::vector<Sample>* rows) {
  const int n = options.functions;
  const bool shared = options.functions_tenant == "shared";
  const std::string label = "functions-" + options.functions_tenant;
  auto connected = Client::connect(options.socket);
  if (!connected) {
    std::printf("\nfunctions: cannot connect: %s\n", connected.error().message.c_str());
    return false;
  }
  Client& client = **connected;
  const bool spec_has_tenant = string_field(api::FunctionSpec(), "tenant") != nullptr;
  std::string tenancy;
  if (shared) {
    tenancy = spec_has_tenant ? "all in tenant 'bench' (FunctionSpec.tenant)"
                              : "tenant 'bench' NOT set: this build's FunctionSpec has no tenant "
                                "field";
  } else {
    tenancy = spec_has_tenant ? "each a tenant of its own (FunctionSpec.tenant empty)"
                              : "each deployed the server's default way (this build's "
                                "FunctionSpec has no tenant field)";
  }
  std::printf("\nfunctions: %d %s functions (workload %s, no pre-fork), %s\n", n,
              workload.runtime == api::NATIVE ? "native" : "python3", workload.name.c_str(),
              tenancy.c_str());
  if (daemon <= 0)
    std::printf("functions: sproutd's pid unknown (no SO_PEERCRED on %s): memory not measured\n",
                options.socket.c_str());

  progress("functions: settling");
  settle(client, daemon, std::chrono::milliseconds(300), std::chrono::seconds(10));
  const ProcessTree before = process_tree(daemon);

  // Deploys, one at a time, client-side latency from the call to its answer.
  std::vector<std::string> deployed;
  std::vector<Sample> deploys;
  std::string server_tenant, first_error;
  const std::string prefix = "bench-fn-";
  for (int i = 0; i < n; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "%s%05d", prefix.c_str(), i);
    api::FunctionSpec spec = make_spec(workload, name, false, 0, 1, 10000);
    if (shared && spec_has_tenant)
      api::FunctionSpec::GetReflection()->SetString(&spec, string_field(spec, "tenant"), "bench");
    Sample sample{workload.name, label + (i == 0 ? "-first-deploy" : "-deploy")};
    const auto begin = Clock::now();
    auto answer = client.deploy(spec);
    sample.latency_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count();
    if (answer) {
      deployed.push_back(name);
      if (deployed.size() == 1) server_tenant = get_string_field(answer->function(), "tenant");
    } else {
      sample.ok = false;
      sample.error = answer.error().message;
      if (first_error.empty()) first_error = std::string(name) + ": " + sample.error;
    }
    deploys.push_back(sample);
    if (i % 5 == 0)
      progress("functions: deployed " + std::to_string(i + 1) + "/" + std::to_string(n));
  }
  // Nothing is in flight after the last answer (no pre-fork); a short
  // settle only lets a background exit of the deploys finish.
  settle(client, daemon, std::chrono::milliseconds(200), std::chrono::seconds(5));
  const ProcessTree after = process_tree(daemon);

  // One invocation of each: the first call of a freshly deployed function.
  std::vector<Sample> invokes;
  for (size_t i = 0; i < deployed.size(); ++i) {
    invokes.push_back(invoke_sample(client, deployed[i], workload, label + "-invoke"));
    if (i % 5 == 0)
      progress("functions: invoked " + std::to_string(i + 1) + "/" +
               std::to_string(deployed.size()));
  }

  // Delete them all, then wait until sproutd's process count is back.
  std::vector<Sample> deletes;
  const auto delete_begin = Clock::now();
  for (const auto& name : deployed) {
    Sample sample{workload.name, label + "-delete"};
    const auto begin = Clock::now();
    auto answer = client.remove(name);
    sample.latency_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count();
    if (!answer) {
      sample.ok = false;
      sample.error = answer.error().message;
    }
    deletes.push_back(sample);
  }
  const auto deleted = Clock::now();
  const double delete_ms =
      std::chrono::duration<double, std::milli>(deleted - delete_begin).count();
  progress("functions: waiting for sproutd's processes to end");
  bool back = daemon <= 0;
  double back_ms = 0;
  ProcessTree left;
  while (daemon > 0) {
    left = process_tree(daemon, false);
    if (left.count() <= before.count()) {
      back = true;
      back_ms = ms_since(deleted);
      break;
    }
    if (Clock::now() - deleted >= std::chrono::seconds(30)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const ProcessTree final_tree = daemon > 0 ? process_tree(daemon) : ProcessTree{};
  progress("");

  // Report.
  const size_t deploy_errors =
      std::count_if(deploys.begin(), deploys.end(), [](const Sample& s) { return !s.ok; });
  const double first_ms = deploys.empty() ? 0 : deploys.front().latency_us / 1000.0;
  const Summary rest = summarize(
      std::vector<Sample>(deploys.begin() + std::min<size_t>(1, deploys.size()), deploys.end()), 0);
  if (n > 1) {
    std::printf(
        "functions: deploy (client side): first %.2f ms; the other %d: p50 %.2f ms, p99 %.2f ms, "
        "max %.2f ms; %zu failed%s\n",
        first_ms, n - 1, rest.p50_ms, rest.p99_ms, rest.max_ms, deploy_errors,
        first_error.empty() ? "" : (" (first: " + first_error + ")").c_str());
  } else {
    std::printf("functions: deploy (client side): %.2f ms; %zu failed%s\n", first_ms, deploy_errors,
                first_error.empty() ? "" : (" (" + first_error + ")").c_str());
  }
  if (!deployed.empty()) {
    std::printf(
        "functions: the server reports tenant %s for %s\n",
        server_tenant.empty() ? "(none: it predates tenants)" : ("'" + server_tenant + "'").c_str(),
        deployed.front().c_str());
  }
  double per_function_kb = 0;
  if (daemon > 0) {
    auto tree_line = [&](const char* when, const ProcessTree& tree) {
      std::printf(
          "functions: %-27s %4zu processes under sproutd, PSS %8.1f MiB%s; sproutd RSS "
          "%.1f MiB\n",
          when, tree.count(), kb_to_mib(tree.total_pss_kb),
          tree.unreadable ? (" (" + std::to_string(tree.unreadable) + " unreadable)").c_str() : "",
          kb_to_mib(tree.root_rss_kb));
    };
    tree_line("before the first deploy:", before);
    tree_line(("after deploy " + std::to_string(n) + ":").c_str(), after);
    per_function_kb =
        (static_cast<double>(after.total_pss_kb) - static_cast<double>(before.total_pss_kb)) /
        std::max(n, 1);
    std::printf(
        "functions: %.2f MiB PSS per function ((after - before) / %d): %.0f functions per "
        "GiB\n",
        kb_to_mib(per_function_kb), n,
        per_function_kb > 0 ? 1024.0 * 1024.0 / per_function_kb : 0.0);
  }
  const Summary first_calls = summarize(invokes, 0);
  std::string invoke_error;
  for (const auto& s : invokes)
    if (!s.ok && invoke_error.empty()) invoke_error = " (first failure: " + s.error + ")";
  std::printf("functions: first invocation of each: %zu of %d answered OK, p50 %.2f ms%s\n",
              first_calls.count - first_calls.errors, n, first_calls.p50_ms, invoke_error.c_str());
  const Summary delete_summary = summarize(deletes, 0);
  std::printf("functions: deleted %zu of %zu in %.0f ms (p50 %.2f ms per delete); ",
              delete_summary.count - delete_summary.errors, deployed.size(), delete_ms,
              delete_summary.p50_ms);
  std::vector<pid_t> extra;
  if (daemon <= 0) {
    std::printf("processes not watched (sproutd's pid unknown)\n");
  } else if (back) {
    std::printf(
        "processes under sproutd back to %zu after %.0f ms: nothing left behind; PSS "
        "%.1f MiB\n",
        before.count(), back_ms, kb_to_mib(final_tree.total_pss_kb));
  } else {
    for (const auto& [pid, pss] : final_tree.pss_kb)
      if (!before.pss_kb.count(pid)) extra.push_back(pid);
    std::printf(
        "processes under sproutd NOT back to %zu after 30 s: %zu now, %zu of them not "
        "there before the first deploy:\n",
        before.count(), final_tree.count(), extra.size());
    for (size_t i = 0; i < extra.size() && i < 10; ++i)
      std::printf("functions:   left: %s, PSS %.1f MiB\n", describe_process(extra[i]).c_str(),
                  kb_to_mib(final_tree.pss_kb.at(extra[i])));
    if (extra.size() > 10) std::printf("functions:   ... and %zu more\n", extra.size() - 10);
  }

  // The per-call rows go to samples.csv with the rest; the run's figures to
  // functions.csv, one row per run.
  for (auto* part : {&deploys, &invokes, &deletes})
    rows->insert(rows->end(), part->begin(), part->end());
  const std::string summary_path = options.out + "/functions.csv";
  std::error_code ignored;
  const bool header = !fs::exists(summary_path, ignored);
  std::ofstream summary(summary_path, std::ios::app);
  if (header) {
    summary
        << "tenant,functions,deployed,first_deploy_ms,deploy_p50_ms,deploy_p99_ms,deploy_max_ms,"
           "processes_before,pss_before_kb,sproutd_rss_before_kb,processes_after,pss_after_kb,"
           "sproutd_rss_after_kb,pss_per_function_kb,functions_per_gib,invoked_ok,"
           "invoke_p50_ms,delete_ms,processes_back_ms,processes_left\n";
  }
  summary << options.functions_tenant << ',' << n << ',' << deployed.size() << ',' << first_ms
          << ',' << rest.p50_ms << ',' << rest.p99_ms << ',' << rest.max_ms << ',' << before.count()
          << ',' << before.total_pss_kb << ',' << before.root_rss_kb << ',' << after.count() << ','
          << after.total_pss_kb << ',' << after.root_rss_kb << ',' << per_function_kb << ','
          << (per_function_kb > 0 ? 1024.0 * 1024.0 / per_function_kb : 0.0) << ','
          << first_calls.count - first_calls.errors << ',' << first_calls.p50_ms << ',' << delete_ms
          << ',' << (back ? back_ms : -1) << ','
          << (back ? 0 : final_tree.count() - std::min(final_tree.count(), before.count())) << '\n';
  return deploy_errors == 0 && first_calls.errors == 0 && delete_summary.errors == 0 && back;
}

int usage() {
  std::fprintf(stderr,
               "usage: sprout-bench [--start-daemon | --socket PATH] [--workloads "
               "hello,imports,thumbnail,native]\n"
               "                    [--modes cold,pooled,plain,bwrap,runc,crun,criu] "
               "[--invocations N] [--warmup N]\n"
               "                    [--concurrency C] [--pace-ms N] [--throughput SECONDS] "
               "[--density N]\n"
               "                    [--functions N [--functions-tenant own|shared]] [--out DIR]\n"
               "--workloads none: no latency tables (e.g. with --density or --functions only)\n");
  return 2;
}

}  // namespace
}  // namespace sprout::bench

int main(int argc, char** argv) {
  using namespace sprout::bench;
  namespace api = sprout::api;
  // A peer that fails before reading its stdin must not kill the run.
  static_cast<void>(signal(SIGPIPE, SIG_IGN));  // cannot fail for SIGPIPE
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--start-daemon") {
      options.start_daemon = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    std::string value = argv[++i];
    if (arg == "--socket")
      options.socket = value;
    else if (arg == "--workloads")
      options.workloads = value == "none" ? std::vector<std::string>{} : split(value);
    else if (arg == "--modes")
      options.modes = split(value);
    else if (arg == "--invocations")
      options.invocations = std::stoi(value);
    else if (arg == "--warmup")
      options.warmup = std::stoi(value);
    else if (arg == "--concurrency")
      options.concurrency = std::max(1, std::stoi(value));
    else if (arg == "--pace-ms")
      options.pace_ms = std::stoi(value);
    else if (arg == "--throughput")
      options.throughput_seconds = std::stoi(value);
    else if (arg == "--density")
      options.density = std::stoi(value);
    else if (arg == "--functions")
      options.functions = std::stoi(value);
    else if (arg == "--functions-tenant" && (value == "own" || value == "shared"))
      options.functions_tenant = value;
    else if (arg == "--out")
      options.out = value;
    else
      return usage();
  }
  fs::create_directories(options.out);
  options.out = fs::canonical(options.out);
  Daemon daemon;
  if (options.start_daemon && !start_daemon(options, daemon, std::max(256, options.density + 16))) {
    std::fprintf(stderr, "sprout-bench: could not start sproutd (log in %s)\n", daemon.dir.c_str());
    return 1;
  }
  if (!sprout::Client::connect(options.socket)) {
    std::fprintf(stderr, "sprout-bench: sproutd is not running at %s (or use --start-daemon)\n",
                 options.socket.c_str());
    return 1;
  }

  const std::string workloads_dir = SPROUT_BENCH_WORKLOADS;
  // The thumbnail's input: a 1024x768 JPEG made with Pillow.
  const std::string jpeg_event = options.out + "/thumbnail-event.json";
  std::string make_error;
  if (has(options.workloads, "thumbnail") &&
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
        has(options.workloads, "thumbnail") ? read_file(jpeg_event) : ""}},
      {"native", {"native", api::NATIVE, native_dir, "hello.so", "hello.so", "{}"}},
  };
  PeerPaths paths{SPROUT_BENCH_PYTHON_RUNNER, SPROUT_BENCH_NATIVE_RUNNER, options.out};

  std::printf(
      "sprout-bench: %u cores, sproutd at %s, %d invocations per sprout mode (peers: %d), "
      "concurrency %d\n",
      std::thread::hardware_concurrency(), options.socket.c_str(), options.invocations,
      std::max(10, options.invocations / 4), options.concurrency);
  std::printf(
      "note: absolute times and memory are this machine's (cores, CPU, kernel, VM, load) and do "
      "not travel to another; compare the rows of one run, and ratios\n");
  // The machine's own costs first, so that two hosts' runs can be compared.
  const MachineProbes probes = probe_machine();
  std::printf("machine probes (medians): %s\n", describe(probes).c_str());
  write_probes_csv(options.out + "/probes.csv", probes);
  std::vector<Sample> all;
  for (const auto& name : options.workloads) {
    if (!known.count(name)) {
      std::fprintf(stderr, "sprout-bench: unknown workload %s\n", name.c_str());
      return usage();
    }
    const Workload& workload = known[name];
    std::vector<std::pair<std::string, Summary>> rows;
    std::map<std::string, std::string> skipped;
    std::vector<Sample> samples;
    double cold_p50 = 0;
    for (const std::string mode : {"cold", "pooled"}) {
      if (!has(options.modes, mode)) continue;
      double wall = 0;
      auto measured = run_sprout(options, workload, mode, &wall);
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
    PeerWorkload peer_workload{workload.name, workload.code_dir, workload.runtime == api::NATIVE,
                               "hello.so", workload.payload};
    for (const auto& peer_name : all_peer_names()) {
      if (!has(options.modes, peer_name)) continue;
      Peer peer(peer_name, paths);
      std::string reason;
      progress(workload.name + " " + peer_name + ": checking");
      if (!peer.available(peer_workload, &reason)) {
        skipped[peer_name] = reason;
        continue;
      }
      double wall = 0;
      auto measured = run_peer(options, peer, peer_workload, &wall);
      rows.emplace_back(peer_name, summarize(measured, wall));
      samples.insert(samples.end(), measured.begin(), measured.end());
    }
    progress("");
    print_table("workload " + workload.name +
                    (workload.runtime == api::NATIVE ? " (native)" : " (python3)"),
                rows, skipped, cold_p50);
    for (const char* mode_name : {"sprout-cold", "sprout-pooled"}) {
      const std::string mode = mode_name;
      std::vector<uint64_t> queue, fork, run, total, latency, faults, major, switches;
      size_t served_preforked = 0;
      for (const auto& s : samples) {
        if (s.mode != mode || !s.ok) continue;
        served_preforked += s.preforked ? 1 : 0;
        queue.push_back(s.queue_us);
        fork.push_back(s.fork_us);
        run.push_back(s.run_us);
        total.push_back(s.daemon_total_us);
        latency.push_back(s.latency_us);
        faults.push_back(s.minor_faults);
        major.push_back(s.major_faults);
        switches.push_back(s.context_switches);
      }
      if (latency.empty()) continue;
      std::printf(
          "  %s phases (medians): queue %llu us, fork %llu us, init 0 us (in the snapshot), run "
          "%llu us;"
          " sproutd total %llu us of %llu us seen by the client\n",
          mode.c_str(), (unsigned long long)median(queue), (unsigned long long)median(fork),
          (unsigned long long)median(run), (unsigned long long)median(total),
          (unsigned long long)median(latency));
      std::printf(
          "  %s costs per invocation (medians, the sandbox's kernel counters from fork to "
          "answer): %llu minor + %llu major page faults, %llu context switches\n",
          mode.c_str(), (unsigned long long)median(faults), (unsigned long long)median(major),
          (unsigned long long)median(switches));
      std::printf("  %s pool hits: %zu of %zu invocations served by a pre-forked sandbox (%.0f%%)\n",
                  mode.c_str(), served_preforked, latency.size(),
                  100.0 * static_cast<double>(served_preforked) / static_cast<double>(latency.size()));
    }
    write_cdf_svg(options.out + "/cdf-" + workload.name + ".svg", "workload " + workload.name,
                  samples);
    all.insert(all.end(), samples.begin(), samples.end());
  }
  write_csv(options.out + "/samples.csv", all);
  if (options.throughput_seconds > 0) {
    for (const auto& name : options.workloads) {
      if (name == "hello" || name == "native") run_throughput(options, known[name]);
    }
  }
  if (options.density > 0) run_density(options, known["hello"]);
  bool functions_ok = true;
  if (options.functions > 0) {
    std::vector<Sample> rows;
    functions_ok =
        run_functions(options, known["hello"],
                      daemon.pid > 0 ? daemon.pid : sproutd_pid_of(options.socket), &rows);
    write_csv(options.out + "/samples.csv", rows, /*append=*/true);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  std::printf("\nsamples: %s/samples.csv; CDF plots: %s/cdf-<workload>.svg%s\n",
              options.out.c_str(), options.out.c_str(),
              options.functions > 0
                  ? ("; per-function costs: " + options.out + "/functions.csv").c_str()
                  : "");
  size_t errors = 0;
  for (const auto& s : all) errors += !s.ok;
  return errors == 0 && functions_ok ? 0 : 3;
}
