// Invocation latency from a function snapshot, next to starting python3
// fresh, measured side by side in one run (Google Benchmark). Run as root:
//   build/bench/snapshot_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   cold       fork on the critical path, every namespace fresh, seccomp, cgroup limits
//   preforked  the sandbox was forked ahead (outside the timed region)
//   fresh      fork + exec /usr/bin/python3.11, import the handler, call it (no isolation at all)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "host/cgroup_pool.h"
#include "snapshot/runtime_zygote.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Fixture {
  std::unique_ptr<sprout::CgroupPool> pool;
  std::unique_ptr<sprout::RuntimeZygote> zygote;
  std::unique_ptr<sprout::FunctionSnapshot> snapshot;
  std::string error;
};

Fixture make_fixture(const std::string& workload) {
  Fixture fixture;
  auto pool = sprout::CgroupPool::create({.prefix = "sprout-bench", .prewarm = 4});
  if (!pool) return {.error = pool.error().message()};
  fixture.pool = std::move(*pool);
  // Host ids of the bench's zygote and snapshot, apart from sproutd's range.
  static auto ids = sprout::HostIdRange::create(3200000000u, 1024);
  if (!ids) return {.error = ids.error().message()};
  auto zygote_id = ids->acquire();
  auto snapshot_id = ids->acquire();
  if (!zygote_id || !snapshot_id) return {.error = "no host id"};
  auto zygote = sprout::RuntimeZygote::start({.runtime = sprout::agent::PYTHON3,
                                              .agent_path = SPROUT_BUILD_AGENT_PATH,
                                              .ids = std::move(*zygote_id)});
  if (!zygote) return {.error = zygote.error().message()};
  fixture.zygote = std::move(*zygote);
  sprout::FunctionDefinition definition;
  definition.name = workload;
  definition.handler = "handler.handler";
  definition.bundle_file_name = "handler.py";
  definition.bundle = read_file(std::string(SPROUT_WORKLOADS_DIR) + "/" + workload + "/handler.py");
  auto loaded = fixture.zygote->load(definition, fixture.pool.get(), std::move(*snapshot_id));
  if (!loaded) return {.error = loaded.error().message()};
  if (!loaded->init.ok()) return {.error = loaded->init.error_message()};
  fixture.snapshot = std::move(loaded->snapshot);
  return fixture;
}

void BM_Invoke(benchmark::State& state, const std::string& workload, bool preforked) {
  Fixture fixture = make_fixture(workload);
  if (!fixture.snapshot) {
    state.SkipWithError(fixture.error.c_str());
    return;
  }
  for (auto _ : state) {
    if (preforked) {
      state.PauseTiming();
      if (!fixture.snapshot->prefork(1)) state.SkipWithError("prefork failed");
      state.ResumeTiming();
    }
    auto result = fixture.snapshot->invoke({.payload = "{}"});
    if (!result || result->status != sprout::InvocationStatus::kOk) {
      state.SkipWithError(result ? result->detail.c_str() : result.error().message().c_str());
      break;
    }
  }
}

void BM_PythonFresh(benchmark::State& state, const std::string& workload) {
  const std::string dir = std::string(SPROUT_WORKLOADS_DIR) + "/" + workload;
  const std::string runner = SPROUT_FRESH_RUNNER;
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) {
      int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, 1);
      execl("/usr/bin/python3.11", "python3.11", "-B", runner.c_str(), dir.c_str(), nullptr);
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (status != 0) {
      state.SkipWithError("python3.11 failed");
      break;
    }
  }
}

BENCHMARK_CAPTURE(BM_Invoke, hello_cold, "hello", false)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Invoke, hello_preforked, "hello", true)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PythonFresh, hello_fresh, "hello")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Invoke, imports_cold, "imports", false)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Invoke, imports_preforked, "imports", true)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PythonFresh, imports_fresh, "imports")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
