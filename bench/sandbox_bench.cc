// Micro-benchmarks of the sandbox/ library (Google Benchmark). Run as root:
//   build/bench/sandbox_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Each spawn benchmark runs /usr/bin/true or an in-process entry and reaps it,
// so the figure is clone-to-reaped, the cost a cold sandbox adds.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/cgroup_pool.h"
#include "host/spawn.h"
#include "sandbox/seccomp_policy.h"

namespace {

// clone + exit + reap with a given namespace set: the kernel's share of a
// sandbox's cost, before any setup of ours.
void BM_CloneWithNamespaces(benchmark::State& state) {
  const int flags = static_cast<int>(state.range(0));
  for (auto _ : state) {
    pid_t pid =
        static_cast<pid_t>(syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
    if (pid == 0) _exit(0);
    if (pid < 0) {
      state.SkipWithError("clone failed");
      break;
    }
    waitpid(pid, nullptr, 0);
  }
}
BENCHMARK(BM_CloneWithNamespaces)->Arg(0)->Name("clone/none")->UseRealTime();
BENCHMARK(BM_CloneWithNamespaces)->Arg(CLONE_NEWUSER)->Name("clone/user")->UseRealTime();
BENCHMARK(BM_CloneWithNamespaces)
    ->Arg(CLONE_NEWUSER | CLONE_NEWPID)
    ->Name("clone/user+pid")
    ->UseRealTime();
BENCHMARK(BM_CloneWithNamespaces)
    ->Arg(CLONE_NEWUSER | CLONE_NEWNS)
    ->Name("clone/user+mount")
    ->UseRealTime();
BENCHMARK(BM_CloneWithNamespaces)
    ->Arg(CLONE_NEWUSER | CLONE_NEWNET)
    ->Name("clone/user+net")
    ->UseRealTime();
BENCHMARK(BM_CloneWithNamespaces)
    ->Arg(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
          CLONE_NEWCGROUP)
    ->Name("clone/all")
    ->UseRealTime();

std::unique_ptr<sprout::CgroupPool> make_pool(size_t prewarm) {
  auto pool = sprout::CgroupPool::create({.prefix = "sprout-bench", .prewarm = prewarm});
  return pool ? std::move(*pool) : nullptr;
}

// The full spawn path: prepare once, then clone, id maps, cgroup, mounts,
// pivot_root, caps, seccomp, entry, reap.
void BM_SpawnFull(benchmark::State& state, bool exec_true) {
  auto pool = make_pool(2);
  sprout::sandbox::SandboxSpec spec;
  if (exec_true) spec.add_argv("/usr/bin/true");
  auto prepared = sprout::prepare_sandbox(spec, pool.get());
  if (!prepared) {
    state.SkipWithError(prepared.error().message().c_str());
    return;
  }
  auto entry = +[](void*) -> int { return 0; };
  for (auto _ : state) {
    auto sandbox = sprout::spawn_sandbox(
        **prepared, {.cgroups = pool.get(), .entry = exec_true ? nullptr : entry});
    if (!sandbox) {
      state.SkipWithError(sandbox.error().message().c_str());
      break;
    }
    auto outcome = sandbox->wait();
    if (!outcome || outcome->exit_code != 0) {
      state.SkipWithError("sandbox failed");
      break;
    }
  }
}
BENCHMARK_CAPTURE(BM_SpawnFull, entry, false)
    ->Name("spawn/full+entry")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_SpawnFull, exec_true, true)
    ->Name("spawn/full+exec_true")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Loading the prepared BPF program, in a forked child (a filter cannot be
// removed, so each load needs a fresh process; the fork is measured apart).
void BM_SeccompLoad(benchmark::State& state) {
  const auto& program = sprout::default_seccomp_program(sprout::FatalMode::kKillProcess);
  const bool load = state.range(0) != 0;
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) {
      if (load) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (sprout::load_seccomp_program(program) < 0) _exit(1);
      }
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (status != 0) {
      state.SkipWithError("seccomp load failed");
      break;
    }
  }
}
BENCHMARK(BM_SeccompLoad)->Arg(0)->Name("seccomp/fork_only")->UseRealTime();
BENCHMARK(BM_SeccompLoad)->Arg(1)->Name("seccomp/fork+load")->UseRealTime();

void BM_SeccompCompile(benchmark::State& state) {
  for (auto _ : state) {
    auto program = sprout::compile_seccomp_policy(sprout::default_seccomp_policy(),
                                                  sprout::FatalMode::kKillProcess);
    benchmark::DoNotOptimize(program);
  }
}
BENCHMARK(BM_SeccompCompile)->Name("seccomp/compile")->Unit(benchmark::kMicrosecond);

// A cgroup leaf: created and removed every time, versus taken from the pool.
void BM_CgroupCreateRemove(benchmark::State& state) {
  auto pool = make_pool(0);
  if (!pool || pool->layout().version == sprout::CgroupVersion::kNone) {
    state.SkipWithError("no cgroup controllers");
    return;
  }
  std::vector<std::string> parents;
  for (const auto& tree : pool->layout().trees)
    parents.push_back(tree.own_dir + "/sprout-bench-" + std::to_string(getpid()));
  sprout::CgroupLimits limits{128 << 20, 64, 1000};
  int created = 0;
  for (auto _ : state) {
    auto leaf = sprout::SandboxCgroup::create(pool->layout(), parents,
                                              "fresh-" + std::to_string(created++));
    if (!leaf || !(*leaf)->apply_limits(limits) || !(*leaf)->reset_counters() ||
        !(*leaf)->remove()) {
      state.SkipWithError("cgroup create/remove failed");
      break;
    }
  }
}
BENCHMARK(BM_CgroupCreateRemove)
    ->Name("cgroup/create+remove")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_CgroupPooled(benchmark::State& state) {
  auto pool = make_pool(1);
  if (!pool || pool->layout().version == sprout::CgroupVersion::kNone) {
    state.SkipWithError("no cgroup controllers");
    return;
  }
  sprout::CgroupLimits limits{128 << 20, 64, 1000};
  for (auto _ : state) {
    auto lease = pool->acquire(limits);
    if (!lease) {
      state.SkipWithError(lease.error().message().c_str());
      break;
    }
  }
}
BENCHMARK(BM_CgroupPooled)
    ->Name("cgroup/pooled_acquire+release")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
