#include "tests/sandbox/sandbox_fixture.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

namespace sprout::testing {

void SandboxTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "sandbox tests run as root (cgroups, id maps to uid 65534)";
  if (access("/proc/self/ns/user", F_OK) != 0) GTEST_SKIP() << "kernel without user namespaces";
  char pattern[] = "/tmp/sprout-test-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  work_dir_ = pattern;
  // The sandbox's outer uid (65534) must be able to reach the probe.
  ASSERT_EQ(chmod(work_dir_.c_str(), 0755), 0);
  code_dir_ = work_dir_ + "/code";
  std::filesystem::create_directory(code_dir_);
  std::filesystem::copy_file(SPROUT_PROBE_PATH, code_dir_ + "/sandbox_probe");
  auto pool = CgroupPool::create({.prefix = "sprout-test", .prewarm = 1});
  ASSERT_TRUE(pool.has_value()) << pool.error().message();
  pool_ = std::move(*pool);
}

void SandboxTest::TearDown() {
  pool_.reset();
  if (!work_dir_.empty()) std::filesystem::remove_all(work_dir_);
}

Result<Sandbox> SandboxTest::spawn_probe(const std::vector<std::string>& args,
                                         const SpecTweak& tweak, int stdout_fd) {
  sandbox::SandboxSpec spec;
  spec.set_code_dir(code_dir_);
  spec.add_argv("/var/task/sandbox_probe");
  for (const auto& arg : args) spec.add_argv(arg);
  spec.set_deadline_ms(10000);
  auto* out = spec.add_fds();
  out->set_parent_fd(stdout_fd);
  out->set_child_fd(1);
  auto* err = spec.add_fds();
  err->set_parent_fd(STDERR_FILENO);
  err->set_child_fd(2);
  if (tweak) tweak(spec);
  auto prepared = prepare_sandbox(spec, pool_.get());
  if (!prepared) return std::unexpected(prepared.error());
  return spawn_sandbox(**prepared, {.cgroups = pool_.get()});
}

ProbeRun SandboxTest::run_probe(const std::vector<std::string>& args, const SpecTweak& tweak) {
  ProbeRun run;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return run;
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  auto sandbox = spawn_probe(args, tweak, write_end.get());
  write_end.reset();
  if (!sandbox) {
    run.outcome = std::unexpected(sandbox.error());
    return run;
  }
  // Wait first: a probe blocked in a fatal syscall keeps its stdout open until
  // wait() kills it. The probes' output is far below a pipe's capacity.
  run.outcome = sandbox->wait();
  char buffer[4096];
  ssize_t n;
  while ((n = read(read_end.get(), buffer, sizeof buffer)) > 0) run.output.append(buffer, n);
  while (!run.output.empty() && run.output.back() == '\n') run.output.pop_back();
  return run;
}

}  // namespace sprout::testing
