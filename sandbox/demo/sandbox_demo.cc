// sprout-sandbox-demo: runs one command in a sandbox through the sandbox/
// library and reports how it ended. The foundation's demo program, and a
// handy way to poke at the isolation by hand.
//
//   sprout-sandbox-demo [--code DIR] [--memory-mb N] [--pids N] [--timeout-ms N]
//                       [--env K=V]... -- PROGRAM [ARGS...]
//   sprout-sandbox-demo --dump-seccomp     (hex of the compiled default policy)
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "host/cgroup_pool.h"
#include "base/log.h"
#include "sandbox/seccomp_policy.h"
#include "host/spawn.h"

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: sprout-sandbox-demo [--code DIR] [--memory-mb N] [--pids N] [--timeout-ms N]\n"
      "                           [--env K=V]... -- PROGRAM [ARGS...]\n"
      "       sprout-sandbox-demo --dump-seccomp\n");
  return 2;
}

int dump_seccomp() {
  const auto& program = sprout::default_seccomp_program(sprout::FatalMode::kNotifySpawner);
  for (const auto& insn : program.instructions) {
    std::printf("%04x %02x %02x %08x\n", insn.code, insn.jt, insn.jf, insn.k);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  sprout::sandbox::SandboxSpec spec;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--") {
      ++i;
      break;
    } else if (arg == "--dump-seccomp") {
      return dump_seccomp();
    } else if (arg == "--code") {
      const char* v = value();
      if (!v) return usage();
      char resolved[PATH_MAX];
      if (!realpath(v, resolved)) {
        std::fprintf(stderr, "sprout-sandbox-demo: --code %s: %s\n", v, strerror(errno));
        return 2;
      }
      spec.set_code_dir(resolved);
    } else if (arg == "--memory-mb") {
      const char* v = value();
      if (!v) return usage();
      spec.set_memory_limit_bytes(std::stoull(v) << 20);
    } else if (arg == "--pids") {
      const char* v = value();
      if (!v) return usage();
      spec.set_pids_limit(std::stoul(v));
    } else if (arg == "--timeout-ms") {
      const char* v = value();
      if (!v) return usage();
      spec.set_deadline_ms(std::stoul(v));
    } else if (arg == "--env") {
      const char* v = value();
      if (!v) return usage();
      spec.add_env(v);
    } else {
      return usage();
    }
  }
  if (i >= argc) return usage();
  for (; i < argc; ++i) spec.add_argv(argv[i]);
  spec.add_env("PATH=/usr/bin:/bin");
  for (int fd = 0; fd <= 2; ++fd) {
    auto* mapping = spec.add_fds();
    mapping->set_parent_fd(fd);
    mapping->set_child_fd(fd);
  }

  auto pool = sprout::CgroupPool::create({.prefix = "sprout-demo", .prewarm = 1});
  if (!pool) {
    std::fprintf(stderr, "sprout-sandbox-demo: %s\n", pool.error().message().c_str());
    return 1;
  }
  auto prepared = sprout::prepare_sandbox(spec, pool->get());
  if (!prepared) {
    std::fprintf(stderr, "sprout-sandbox-demo: %s\n", prepared.error().message().c_str());
    return 1;
  }
  auto sandbox = sprout::spawn_sandbox(**prepared, {.cgroups = pool->get()});
  if (!sandbox) {
    std::fprintf(stderr, "sprout-sandbox-demo: %s\n", sandbox.error().message().c_str());
    return 1;
  }
  auto outcome = sandbox->wait();
  if (!outcome) {
    std::fprintf(stderr, "sprout-sandbox-demo: %s\n", outcome.error().message().c_str());
    return 1;
  }
  std::fprintf(
      stderr, "sprout-sandbox-demo: %s; wall %.1f ms, cpu %.1f ms, peak memory %.1f MiB (%s)\n",
      outcome->describe().c_str(), outcome->wall_time_us / 1000.0, outcome->cpu_time_us / 1000.0,
      outcome->peak_memory_bytes / 1048576.0, (*pool)->layout().describe().c_str());
  return outcome->kind == sprout::OutcomeKind::kExited ? outcome->exit_code : 1;
}
