// sprout-soak: many invocations of mixed outcomes against a real sproutd,
// then an account of what was lost and what was left behind.
//
//   sprout-soak [--calls N] [--concurrency C] [--sproutd PATH] [--kinds ok,error,...]
//
// Starts sproutd on a private socket, state directory and host-id range,
// deploys five python3 functions and runs N invocations (default 10,000)
// from C client threads (default 64), each with a connection of its own,
// one call at a time, the kinds mixed by call number:
//
//   ok          60 %   returns event["n"] * 2                  -> OK, result checked
//   error       15 %   raises ValueError                        -> FUNCTION_ERROR
//   timeout      5 %   sleeps past its 200 ms timeout           -> TIMEOUT
//   oom          5 %   allocates past its 64 MiB limit           -> OUT_OF_MEMORY
//                      (its timeout is 120 s: the limit ends it, not the clock)
//   disconnect  15 %   a raw connection sends an invoke of a function that
//                      sleeps 0.5 s and closes mid-call          -> no answer expected
//
// It reports calls issued, answers by status, lost calls (a call that got
// no answer), unexpected statuses, sproutd's descriptors and RSS when idle
// before and after the load, and, after sproutd stops, leftover processes
// (under the run's host ids), cgroups (sproutd-PID) and mounts (naming the
// run's directory). Exit status 0 only if nothing was lost or left, no call
// got an unexpected status and sproutd's descriptors did not grow. No timing
// is asserted: a slow machine takes longer, nothing else.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sprout/client.h"
#include "tests/e2e/process_scan.h"
#include "tests/support/sproutd_launch.h"

namespace sprout::soak {
namespace {

using namespace std::chrono_literals;
using testing::all_processes;
using testing::cgroup_dirs_named;
using testing::read_text;
using testing::remove_cgroup_trees_named;
using testing::wait_until;

// A bound on one call, only so that a hung call cannot hang the driver: it
// is counted lost. Far above any call's real duration on any machine.
constexpr auto kCallBound = 600s;
constexpr auto kSettleBound = 300s;
constexpr uint32_t kHostIdCount = 65536;

enum class Kind { kOk, kError, kTimeout, kOom, kDisconnect };
constexpr int kKinds = 5;
const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kOk: return "ok";
    case Kind::kError: return "error";
    case Kind::kTimeout: return "timeout";
    case Kind::kOom: return "oom";
    case Kind::kDisconnect: return "disconnect";
  }
  return "?";
}

// The kind of call number i: a fixed pattern of 20, so every run of N calls
// has the same mix.
Kind kind_of(uint64_t i) {
  switch (i % 20) {
    case 0: case 2: case 3: case 5: case 6: case 8: case 9: case 11: case 13: case 14: case 16:
    case 18:
      return Kind::kOk;
    case 1: case 10: case 17: return Kind::kError;
    case 7: return Kind::kTimeout;
    case 12: return Kind::kOom;
    default: return Kind::kDisconnect;  // 4, 15, 19
  }
}

struct FunctionDef {
  const char* name;
  const char* source;
  uint32_t memory_mb;
  uint32_t timeout_ms;
  uint32_t prefork;  // prefork_min = prefork_max: a pool of a fixed size, so
                     // that sproutd's idle state is the same before and after
};

const FunctionDef kFunctions[] = {
    {"soak-ok", "def handler(event, context):\n    return event['n'] * 2\n", 128, 120000, 2},
    {"soak-error",
     "def handler(event, context):\n    raise ValueError('soak error %d' % event['n'])\n", 128,
     120000, 2},
    {"soak-timeout", "import time\ndef handler(event, context):\n    time.sleep(3600)\n", 128, 200,
     1},
    {"soak-oom",
     "def handler(event, context):\n"
     "    hog = []\n"
     "    for _ in range(1024):\n"
     "        hog.append(bytearray(1 << 20))\n"
     "    return len(hog)\n",
     64, 120000, 1},
    {"soak-drop", "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return 1\n",
     128, 120000, 1},
};
const char* function_of(Kind kind) { return kFunctions[static_cast<int>(kind)].name; }

api::Status expected_status(Kind kind) {
  switch (kind) {
    case Kind::kOk: return api::OK;
    case Kind::kError: return api::FUNCTION_ERROR;
    case Kind::kTimeout: return api::TIMEOUT;
    case Kind::kOom: return api::OUT_OF_MEMORY;
    case Kind::kDisconnect: return api::STATUS_UNSPECIFIED;
  }
  return api::STATUS_UNSPECIFIED;
}

std::string payload_of(uint64_t n) { return R"({"n": )" + std::to_string(n) + "}"; }

struct Options {
  uint64_t calls = 10000;
  uint32_t concurrency = 64;
  std::string sproutd = SPROUTD_PATH;
  // Only calls of these kinds (the pattern's other slots are skipped): to
  // find which kind a leak follows. Empty: all.
  std::vector<Kind> kinds;
};

// ---- sproutd -------------------------------------------------------------

struct Daemon {
  pid_t pid = -1;
  std::string dir, socket, state, log;
  uint32_t host_id_first = 0;
};

bool start_daemon(const Options& options, Daemon& daemon) {
  std::random_device random;
  daemon.host_id_first = 3100000000u + (random() % 15000) * kHostIdCount;
  std::vector<std::string> args{options.sproutd,
                                "--socket", daemon.socket,
                                "--state-dir", daemon.state,
                                "--host-id-first", std::to_string(daemon.host_id_first),
                                "--host-id-count", std::to_string(kHostIdCount),
                                // Calls wait in the queue as long as they must: a slow
                                // machine must not turn into THROTTLED answers.
                                "--queue-timeout-ms", "3600000"};
  testing::LaunchedDaemon launched =
      testing::launch_sproutd(args, daemon.log, daemon.socket, std::chrono::seconds(120));
  if (launched.pid < 0) std::fprintf(stderr, "sprout-soak: %s\n", launched.error.c_str());
  daemon.pid = launched.pid;
  return launched.pid > 0;
}

// SIGTERM and wait; SIGKILL after the bound. Returns the exit status
// (128 + signal if killed).
int stop_daemon(Daemon& daemon) {
  if (daemon.pid <= 0) return -1;
  kill(daemon.pid, SIGTERM);
  int status = 0;
  bool exited = wait_until([&] { return waitpid(daemon.pid, &status, WNOHANG) == daemon.pid; },
                           std::chrono::duration_cast<std::chrono::milliseconds>(kSettleBound));
  if (!exited) {
    std::fprintf(stderr, "sprout-soak: sproutd did not stop after SIGTERM; killing it\n");
    kill(daemon.pid, SIGKILL);
    waitpid(daemon.pid, &status, 0);
  }
  daemon.pid = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// sproutd's resources when idle. Idle cgroup leaves are a cache (the pool
// keeps up to 256, each holding the usage files it read open), so cgroup
// descriptors follow the peak concurrency, not the number of calls: they
// are checked for staleness (a file since removed, or opened twice), and
// every other descriptor (sockets, pipes, pidfds, eventfds) by count.
struct DaemonUsage {
  size_t fds = 0;
  size_t cgroup_fds = 0;
  std::map<std::string, size_t> other_fds;  // by kind: "socket", "anon_inode:[pidfd]", ...
  std::vector<std::string> stale_cgroup_fds;
  size_t leaves = 0;  // leaf directories of the pool (memory hierarchy)
  long rss_kb = -1;
  long threads = -1;

  size_t other_total() const {
    size_t total = 0;
    for (const auto& [kind, count] : other_fds) total += count;
    return total;
  }
  std::string describe_other() const {
    std::string text;
    for (const auto& [kind, count] : other_fds)
      text += (text.empty() ? "" : ", ") + kind + " " + std::to_string(count);
    return text;
  }
};

DaemonUsage measure(pid_t pid) {
  DaemonUsage usage;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::set<std::string> cgroup_targets;
  std::error_code error;
  for (std::filesystem::directory_iterator it(dir, error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    std::error_code link_error;
    std::string target = std::filesystem::read_symlink(it->path(), link_error).string();
    if (link_error) continue;
    ++usage.fds;
    if (target.rfind("/sys/fs/cgroup/", 0) == 0) {
      ++usage.cgroup_fds;
      const bool removed = target.size() > 10 && target.ends_with(" (deleted)");
      if (removed || !std::filesystem::exists(target) || !cgroup_targets.insert(target).second)
        usage.stale_cgroup_fds.push_back(target);
      continue;
    }
    if (target.rfind("socket:", 0) == 0) target = "socket";
    if (target.rfind("pipe:", 0) == 0) target = "pipe";
    ++usage.other_fds[target];
  }
  for (const auto& parent : cgroup_dirs_named("sproutd-" + std::to_string(pid))) {
    if (parent.find("/memory") == std::string::npos) continue;
    for (std::filesystem::directory_iterator it(parent, error);
         !error && it != std::filesystem::directory_iterator(); it.increment(error))
      usage.leaves += it->is_directory();
  }
  if (auto info = testing::read_process(pid)) usage.rss_kb = info->rss_kb;
  std::istringstream status(read_text("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0) usage.threads = std::stol(line.substr(8));
  return usage;
}

// measure(), taken again until sproutd holds no more descriptors than at
// `baseline` (or 30 s pass). The idle check just before uses
// sproutd's API: a call's cancellation eventfd is freed just after its
// answer reaches the client, so a count taken at once may still include it.
// A leaked descriptor never goes away, and still fails the run.
DaemonUsage measure_settled(pid_t pid, const DaemonUsage& baseline) {
  DaemonUsage usage = measure(pid);
  wait_until(
      [&] {
        if (usage.other_total() <= baseline.other_total()) return true;
        usage = measure(pid);
        return usage.other_total() <= baseline.other_total();
      },
      30s);
  return usage;
}

// ---- the calls -----------------------------------------------------------

// A connection that sends one invoke and closes without reading the answer.
bool invoke_and_disconnect(const std::string& socket, uint64_t n, std::mt19937& random) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
  bool sent = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    api::Request request;
    request.set_id(n + 1);
    request.mutable_invoke()->set_function(function_of(Kind::kDisconnect));
    request.mutable_invoke()->set_payload(payload_of(n));
    const std::string body = request.SerializeAsString();
    uint32_t length = htonl(static_cast<uint32_t>(body.size()));
    std::string frame(reinterpret_cast<const char*>(&length), 4);
    frame += body;
    sent = send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
    // Mid-call: the function sleeps 0.5 s; close at once or a little later.
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 100));
  }
  close(fd);
  return sent;
}

struct Tally {
  std::mutex mutex;
  std::map<Kind, uint64_t> issued;
  std::map<std::string, uint64_t> answered;  // by status name
  uint64_t lost = 0;
  uint64_t unexpected = 0;
  uint64_t disconnects_sent = 0;
  std::vector<std::string> samples;  // the first few lost or unexpected calls

  void note(const std::string& line) {
    if (samples.size() < 20) samples.push_back(line);
  }
};

std::string describe(const ClientResult<api::InvokeResponse>& result) {
  if (!result)
    return "no answer: " + api::Status_Name(result.error().status) + ": " + result.error().message;
  const std::string& logs = result->logs();
  return api::Status_Name(result->status()) + " (" + result->detail() + ") result=" +
         result->result().substr(0, 200) +
         (logs.empty() ? "" : " logs=..." + logs.substr(logs.size() > 300 ? logs.size() - 300 : 0));
}

// One worker: its own connection, one call at a time, until the calls run out.
void run_worker(const std::string& socket, uint64_t calls, const std::vector<Kind>& kinds,
                std::atomic<uint64_t>& next,
                std::atomic<int64_t>& call_started_ms, Tally& tally, uint32_t seed) {
  std::mt19937 random(seed);
  std::unique_ptr<Client> client;
  for (;;) {
    const uint64_t n = next.fetch_add(1);
    if (n >= calls) break;
    const Kind kind = kinds.size() == kKinds ? kind_of(n) : kinds[n % kinds.size()];
    {
      std::lock_guard lock(tally.mutex);
      ++tally.issued[kind];
    }
    if (kind == Kind::kDisconnect) {
      bool sent = invoke_and_disconnect(socket, n, random);
      std::lock_guard lock(tally.mutex);
      if (sent) {
        ++tally.disconnects_sent;
      } else {
        ++tally.unexpected;
        tally.note("call " + std::to_string(n) + " (disconnect): could not send the invoke");
      }
      continue;
    }
    if (!client) {
      auto connected = Client::connect(socket);
      if (!connected) {
        std::lock_guard lock(tally.mutex);
        ++tally.lost;
        tally.note("call " + std::to_string(n) + ": connect: " + connected.error().message);
        continue;
      }
      client = std::move(*connected);
    }
    call_started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
    auto result = client->invoke(function_of(kind), payload_of(n));
    call_started_ms = 0;
    std::lock_guard lock(tally.mutex);
    if (!result) {
      // No InvokeResponse: a transport failure (lost) or a refusal
      // (THROTTLED, ...: an answer, but not one any call here may get).
      const bool transport = result.error().status == api::UNAVAILABLE;
      if (transport) {
        ++tally.lost;
        client.reset();  // reconnect for the next call
      } else {
        ++tally.answered[api::Status_Name(result.error().status)];
        ++tally.unexpected;
      }
      tally.note("call " + std::to_string(n) + " (" + kind_name(kind) + "): " + describe(result));
      continue;
    }
    ++tally.answered[api::Status_Name(result->status())];
    bool as_expected = result->status() == expected_status(kind);
    if (as_expected && kind == Kind::kOk) as_expected = result->result() == std::to_string(n * 2);
    if (as_expected && kind == Kind::kError) as_expected = result->error_type() == "ValueError";
    if (!as_expected) {
      ++tally.unexpected;
      tally.note("call " + std::to_string(n) + " (" + kind_name(kind) + "): " + describe(result));
    }
  }
}

// Calls number `from` to `to` - 1 on options.concurrency workers. A
// watchdog ends sproutd if a call passes kCallBound (a hang, counted lost).
void run_load(const Daemon& daemon, pid_t daemon_pid, const Options& options, uint64_t from,
              uint64_t to, Tally& tally) {
  std::atomic<uint64_t> next{from};
  std::vector<std::atomic<int64_t>> started(options.concurrency);
  std::vector<std::thread> workers;
  for (uint32_t w = 0; w < options.concurrency; ++w) {
    workers.emplace_back(run_worker, daemon.socket, to, std::cref(options.kinds), std::ref(next),
                         std::ref(started[w]), std::ref(tally),
                         static_cast<uint32_t>(from + w));
  }
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    const uint64_t step = std::max<uint64_t>(options.calls / 10, 1);
    uint64_t reported = from - from % step;
    while (!done) {
      std::this_thread::sleep_for(200ms);
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
      for (auto& s : started) {
        const int64_t at = s.load();
        if (at != 0 && now - at > std::chrono::milliseconds(kCallBound).count()) {
          std::fprintf(stderr, "sprout-soak: a call got no answer within %lld s; killing sproutd\n",
                       static_cast<long long>(kCallBound.count()));
          kill(daemon_pid, SIGKILL);
          return;
        }
      }
      const uint64_t progress = std::min<uint64_t>(next.load(), to);
      if (progress >= reported + step) {
        reported = progress - progress % step;
        std::fprintf(stderr, "sprout-soak: %llu calls issued\n",
                     static_cast<unsigned long long>(reported));
      }
    }
  });
  for (auto& worker : workers) worker.join();
  done = true;
  watchdog.join();
}

// ---- idle state and leftovers --------------------------------------------

// sproutd is idle: no invocation in flight or queued, every pre-forked pool
// at its fixed size.
bool wait_idle(Client& client) {
  return wait_until(
      [&] {
        auto health = client.health();
        if (!health || health->live_sandboxes() != 0 || health->queued_invocations() != 0)
          return false;
        auto list = client.list();
        if (!list) return false;
        for (const auto& def : kFunctions) {
          bool found = false;
          for (const auto& info : list->functions()) {
            if (info.spec().name() != def.name) continue;
            found = true;
            if (info.idle_sandboxes() != def.prefork) return false;
          }
          if (!found) return false;
        }
        return true;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(kSettleBound));
}

struct Leftovers {
  std::vector<std::string> processes, cgroups, mounts;
};

Leftovers find_leftovers(const Daemon& daemon, pid_t stopped_pid) {
  Leftovers left;
  // Processes under the run's host ids (zygotes, snapshots, sandboxes and
  // what they started) may take a moment to be reaped by init.
  auto scan = [&] {
    left.processes.clear();
    for (const auto& p : all_processes()) {
      if (p.uid >= daemon.host_id_first && p.uid - daemon.host_id_first < kHostIdCount)
        left.processes.push_back(std::to_string(p.pid) + " " + p.comm + " uid " +
                                 std::to_string(p.uid) + " state " + p.state);
    }
    return left.processes.empty();
  };
  wait_until(scan, 30s);
  left.cgroups = cgroup_dirs_named("sproutd-" + std::to_string(stopped_pid));
  std::istringstream mounts(read_text("/proc/mounts"));
  std::string line;
  while (std::getline(mounts, line))
    if (line.find(daemon.dir) != std::string::npos) left.mounts.push_back(line);
  return left;
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    try {
      if (flag == "--calls") {
        options.calls = std::stoull(value);
      } else if (flag == "--concurrency") {
        options.concurrency = static_cast<uint32_t>(std::stoul(value));
      } else if (flag == "--kinds") {
        options.kinds.clear();
        std::istringstream names(value);
        std::string name;
        while (std::getline(names, name, ',')) {
          bool known = false;
          for (int k = 0; k < kKinds; ++k) {
            if (name == kind_name(static_cast<Kind>(k))) {
              options.kinds.push_back(static_cast<Kind>(k));
              known = true;
            }
          }
          if (!known) return false;
        }
      } else if (flag == "--sproutd") {
        options.sproutd = value;
      } else {
        return false;
      }
    } catch (const std::exception&) {
      return false;
    }
  }
  if (options.kinds.empty())
    for (int k = 0; k < kKinds; ++k) options.kinds.push_back(static_cast<Kind>(k));
  return options.concurrency > 0 && options.concurrency <= 1000;
}

int run(const Options& options) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "sprout-soak: runs sproutd, which needs root\n");
    return 2;
  }
  // A disconnecting call's write may meet a closed socket.
  static_cast<void>(signal(SIGPIPE, SIG_IGN));  // cannot fail for SIGPIPE
  char pattern[] = "/tmp/sprout-soak-XXXXXX";
  if (!mkdtemp(pattern)) return 2;
  Daemon daemon;
  daemon.dir = pattern;
  daemon.socket = daemon.dir + "/run/sprout.sock";
  daemon.state = daemon.dir + "/state";
  daemon.log = daemon.dir + "/sproutd.log";
  std::vector<std::string> failures;
  auto fail = [&](const std::string& why) {
    failures.push_back(why);
    std::fprintf(stderr, "sprout-soak: %s\n", why.c_str());
  };

  if (!start_daemon(options, daemon)) {
    std::fprintf(stderr, "%s", read_text(daemon.log).c_str());
    if (daemon.pid > 0) stop_daemon(daemon);
    std::filesystem::remove_all(daemon.dir);
    return 1;
  }
  const pid_t daemon_pid = daemon.pid;
  const DaemonUsage fresh = measure(daemon_pid);
  auto client = Client::connect(daemon.socket);
  if (!client) {
    fail("connect: " + client.error().message);
  }
  for (const auto& def : kFunctions) {
    if (!client) break;
    api::FunctionSpec spec;
    spec.set_name(def.name);
    spec.set_runtime(api::PYTHON3);
    spec.set_handler("handler.handler");
    spec.set_code(def.source);
    spec.set_code_format(api::SINGLE_FILE);
    spec.set_code_file_name("handler.py");
    spec.set_memory_mb(def.memory_mb);
    spec.set_timeout_ms(def.timeout_ms);
    spec.set_max_concurrency(options.concurrency);
    spec.set_prefork_min(def.prefork);
    spec.set_prefork_max(def.prefork);
    auto deployed = (*client)->deploy(spec);
    if (!deployed) fail(std::string("deploy ") + def.name + ": " + deployed.error().message);
  }
  // One call of each answering kind loads every snapshot before the
  // baseline is taken; not counted below.
  for (Kind kind : {Kind::kOk, Kind::kError, Kind::kTimeout, Kind::kOom}) {
    if (!client || !failures.empty()) break;
    auto warm = (*client)->invoke(function_of(kind), payload_of(0));
    if (!warm || warm->status() != expected_status(kind))
      fail(std::string("warm-up ") + kind_name(kind) + ": " + describe(warm));
  }
  // Two halves of the load, sproutd measured idle before, between and
  // after: what a cache grows to shows after the first half already; a leak
  // keeps growing in the second.
  DaemonUsage before, middle, after;
  Tally tally;
  double load_s = 0;
  if (failures.empty()) {
    if (!wait_idle(**client)) fail("sproutd did not settle before the load");
    before = measure(daemon_pid);
    std::fprintf(stderr, "sprout-soak: %llu calls at concurrency %u against sproutd %d\n",
                 static_cast<unsigned long long>(options.calls), options.concurrency, daemon_pid);
    const auto began = std::chrono::steady_clock::now();
    const uint64_t half = options.calls / 2;
    for (auto [from, to] : {std::pair{uint64_t{0}, half}, std::pair{half, options.calls}}) {
      if (!failures.empty()) break;
      run_load(daemon, daemon_pid, options, from, to, tally);
      if (!wait_idle(**client)) fail("sproutd did not settle after the load");
      (to == half ? middle : after) = measure_settled(daemon_pid, before);
    }
    load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  }

  // What sproutd itself counted, per function.
  std::map<std::string, std::map<std::string, uint64_t>> server_counts;
  if (client) {
    if (auto stats = (*client)->stats()) {
      for (const auto& f : stats->functions())
        for (const auto& [status, count] : f.by_status()) server_counts[f.name()][status] = count;
    }
  }
  client = std::unexpected(ClientError{});  // close the connection before the stop

  const int exit_status = stop_daemon(daemon);
  const std::string log = read_text(daemon.log);
  Leftovers left = find_leftovers(daemon, daemon_pid);

  // ---- the report --------------------------------------------------------
  std::printf("sprout-soak: %llu calls at concurrency %u, load %.1f s\n",
              static_cast<unsigned long long>(options.calls), options.concurrency, load_s);
  std::printf("issued:");
  for (int k = 0; k < kKinds; ++k)
    std::printf(" %s %llu", kind_name(static_cast<Kind>(k)),
                static_cast<unsigned long long>(tally.issued[static_cast<Kind>(k)]));
  std::printf("\nanswered by status:");
  uint64_t answered = 0;
  for (const auto& [status, count] : tally.answered) {
    std::printf(" %s %llu", status.c_str(), static_cast<unsigned long long>(count));
    answered += count;
  }
  std::printf(" (total %llu)\n", static_cast<unsigned long long>(answered));
  std::printf("disconnects sent: %llu\n", static_cast<unsigned long long>(tally.disconnects_sent));
  std::printf("lost calls: %llu\n", static_cast<unsigned long long>(tally.lost));
  std::printf("unexpected statuses: %llu\n", static_cast<unsigned long long>(tally.unexpected));
  for (const auto& sample : tally.samples) std::printf("  %s\n", sample.c_str());
  std::printf("sproutd counted:");
  for (const auto& [name, counts] : server_counts) {
    std::printf(" %s{", name.c_str());
    bool first = true;
    for (const auto& [status, count] : counts) {
      std::printf("%s%s %llu", first ? "" : ", ", status.c_str(),
                  static_cast<unsigned long long>(count));
      first = false;
    }
    std::printf("}");
  }
  std::printf("\n");
  const std::pair<const char*, const DaemonUsage*> points[] = {
      {"fresh", &fresh}, {"idle before the load", &before}, {"idle after half", &middle},
      {"idle after the load", &after}};
  for (const auto& [when, usage] : points) {
    std::printf(
        "sproutd %-21s fds %zu (cgroup files %zu for %zu leaves, stale %zu; other %zu: %s), "
        "RSS %ld kB, threads %ld\n",
        when, usage->fds, usage->cgroup_fds, usage->leaves, usage->stale_cgroup_fds.size(),
        usage->other_total(), usage->describe_other().c_str(), usage->rss_kb, usage->threads);
  }
  for (const auto& stale : after.stale_cgroup_fds) std::printf("  stale: %s\n", stale.c_str());
  std::printf("sproutd exit status: %d\n", exit_status);
  std::printf("leftovers after sproutd stopped: processes %zu, cgroups %zu, mounts %zu\n",
              left.processes.size(), left.cgroups.size(), left.mounts.size());
  for (const auto& p : left.processes) std::printf("  process %s\n", p.c_str());
  for (const auto& c : left.cgroups) std::printf("  cgroup %s\n", c.c_str());
  for (const auto& m : left.mounts) std::printf("  mount %s\n", m.c_str());

  uint64_t issued_total = 0;
  for (const auto& [kind, count] : tally.issued) issued_total += count;
  if (failures.empty() && issued_total != options.calls)
    fail("issued " + std::to_string(issued_total) + " calls, not " + std::to_string(options.calls));
  if (tally.lost > 0) fail(std::to_string(tally.lost) + " call(s) lost");
  if (tally.unexpected > 0) fail(std::to_string(tally.unexpected) + " unexpected status(es)");
  if (failures.empty() && after.other_total() > before.other_total())
    fail("sproutd's descriptors other than cgroup files grew from " +
         std::to_string(before.other_total()) + " to " + std::to_string(after.other_total()));
  if (!middle.stale_cgroup_fds.empty() || !after.stale_cgroup_fds.empty())
    fail("sproutd holds descriptors of removed or twice-opened cgroup files");
  if (exit_status != 0) fail("sproutd exited with status " + std::to_string(exit_status));
  if (log.find("leases still out") != std::string::npos) fail("cgroup leases still out at stop");
  if (!left.processes.empty() || !left.cgroups.empty() || !left.mounts.empty())
    fail("leftovers after sproutd stopped");

  // Leave nothing of our own either.
  if (!left.cgroups.empty()) remove_cgroup_trees_named("sproutd-" + std::to_string(daemon_pid));
  for (const auto& p : all_processes())
    if (p.uid >= daemon.host_id_first && p.uid - daemon.host_id_first < kHostIdCount)
      kill(p.pid, SIGKILL);
  if (!failures.empty()) {
    std::printf("sproutd log (%s), last 4000 bytes:\n%s\n", daemon.log.c_str(),
                log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
  }
  std::filesystem::remove_all(daemon.dir);
  std::printf("result: %s\n", failures.empty() ? "PASS" : "FAIL");
  for (const auto& why : failures) std::printf("  %s\n", why.c_str());
  return failures.empty() ? 0 : 1;
}

}  // namespace
}  // namespace sprout::soak

int main(int argc, char** argv) {
  sprout::soak::Options options;
  if (!sprout::soak::parse_options(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: sprout-soak [--calls N] [--concurrency C (1..1000)] [--sproutd PATH]\n"
                 "                   [--kinds ok,error,timeout,oom,disconnect]\n");
    return 2;
  }
  return sprout::soak::run(options);
}
