// The spawn path itself: errors that name the step, descriptors, an
// unprivileged spawner, and nothing left behind.
#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sandbox/seccomp_policy.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace sprout::testing {
namespace {

class SpawnTest : public SandboxTest {};

TEST_F(SpawnTest, OnlyTheNamedDescriptorsSurvive) {
  // A descriptor the test holds without O_CLOEXEC must not leak in.
  int leaky = open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  auto run = run_probe({"fds"});
  close(leaky);
  ASSERT_TRUE(run.outcome.has_value()) << run.outcome.error().message();
  EXPECT_EQ(run.output, "ok 0 1 2");
}

TEST_F(SpawnTest, MissingCodeDirectoryNamesTheMountStep) {
  auto run = run_probe({"exit", "0"},
                       [](sandbox::SandboxSpec& spec) { spec.set_code_dir("/nonexistent/code"); });
  ASSERT_FALSE(run.outcome.has_value());
  EXPECT_EQ(run.outcome.error().message().rfind("bind /nonexistent/code on /var/task: ENOENT", 0),
            0u)
      << run.outcome.error().message();
}

TEST_F(SpawnTest, MissingProgramNamesExecve) {
  auto run = run_probe({}, [](sandbox::SandboxSpec& spec) { spec.set_argv(0, "/var/task/nope"); });
  ASSERT_FALSE(run.outcome.has_value());
  EXPECT_EQ(run.outcome.error().message().rfind("execve /var/task/nope: ENOENT", 0), 0u)
      << run.outcome.error().message();
}

TEST_F(SpawnTest, ChildDyingInItsSetupWithoutAReportIsAnError) {
  // A child that dies during its setup without a word closes its report
  // channel just as one that reached exec does. Made to die so here: a
  // seccomp program that kills the process at its next sendmsg, which is the
  // child sending its ready record, the last step before exec.
  static const SeccompRule kKillAtSendmsg[] = {
      {"sendmsg", SeccompAction::kFatal, 0, -1, 0, 0, "the test's injected death"}};
  auto killing = compile_seccomp_policy(kKillAtSendmsg, FatalMode::kKillProcess);
  ASSERT_TRUE(killing.has_value()) << killing.error().message();
  sandbox::SandboxSpec spec;
  spec.set_code_dir(code_dir_);
  spec.add_argv("/var/task/sandbox_probe");
  spec.add_argv("exit");
  spec.add_argv("0");
  auto prepared = prepare_sandbox(spec, pool_.get());
  ASSERT_TRUE(prepared.has_value()) << prepared.error().message();
  // Test-only fault injection into the child plan (the object was made
  // non-const by prepare_sandbox, and only this test uses it).
  auto& plan = const_cast<PreparedSandbox&>(**prepared).child;
  plan.seccomp_notify = &*killing;
  plan.seccomp_kill = &*killing;
  auto sandbox = spawn_sandbox(**prepared, {.cgroups = pool_.get()});
  ASSERT_FALSE(sandbox.has_value()) << "a child that died in its setup was taken for a sandbox";
  EXPECT_EQ(sandbox.error().message(),
            "sandbox setup: ended during its setup without a report (killed by signal SYS)");
  // Reaped, and its cgroup leaf back in the pool.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_EQ(pool_->idle_count(), 1u);
}

TEST_F(SpawnTest, RelativePathsAreRefusedBeforeClone) {
  sandbox::SandboxSpec spec;
  spec.add_argv("/bin/true");
  spec.set_code_dir("/tmp/../etc");
  auto prepared = prepare_sandbox(spec, nullptr);
  ASSERT_FALSE(prepared.has_value());
  EXPECT_NE(prepared.error().message().find("code_dir not absolute and clean"), std::string::npos);
}

TEST_F(SpawnTest, EnvironmentIsOnlyWhatTheSpecSays) {
  setenv("SPROUT_HOST_ONLY", "leak", 1);
  auto run = run_probe({}, [](sandbox::SandboxSpec& spec) {
    spec.clear_argv();
    spec.add_argv("/usr/bin/sh");
    spec.add_argv("-c");
    spec.add_argv("echo \"[$SPROUT_HOST_ONLY][$GIVEN]\"");
    spec.add_env("GIVEN=yes");
  });
  unsetenv("SPROUT_HOST_ONLY");
  ASSERT_TRUE(run.outcome.has_value()) << run.outcome.error().message();
  EXPECT_EQ(run.output, "[][yes]");
}

TEST_F(SpawnTest, InProcessEntryRunsAfterSetup) {
  // Snapshots run user code in-process instead of exec; the same setup applies.
  sandbox::SandboxSpec spec;
  spec.set_code_dir(code_dir_);
  auto prepared = prepare_sandbox(spec, pool_.get());
  ASSERT_TRUE(prepared.has_value()) << prepared.error().message();
  auto entry = +[](void*) -> int {
    // Inside: pid 1 of its own namespace, root read-only, no capabilities.
    if (getpid() != 1) return 10;
    if (access("/var/task/sandbox_probe", R_OK) != 0) return 11;
    if (open("/usr/entry-escape", O_WRONLY | O_CREAT, 0644) >= 0 || errno != EROFS) return 12;
    return 42;
  };
  auto sandbox = spawn_sandbox(**prepared, {.cgroups = pool_.get(), .entry = entry});
  ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message();
  auto outcome = sandbox->wait();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->kind, OutcomeKind::kExited);
  EXPECT_EQ(outcome->exit_code, 42);
}

TEST_F(SpawnTest, UnprivilegedSpawnerMapsItsOwnUid) {
  // A function snapshot spawns without privilege. Do the same from a child
  // that dropped to uid/gid 65534, with no cgroup pool (rlimits only).
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0)
      _exit(20);
    // As after the exec that starts a real snapshot agent.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    sandbox::SandboxSpec spec;
    spec.set_code_dir(code_dir_);
    spec.add_argv("/var/task/sandbox_probe");
    spec.add_argv("exit");
    spec.add_argv("5");
    auto prepared = prepare_sandbox(spec, nullptr);
    if (!prepared) _exit(21);
    if ((*prepared)->id_maps.uid_map != "0 65534 1\n") _exit(22);
    auto sandbox = spawn_sandbox(**prepared, {});
    if (!sandbox) {
      fprintf(stderr, "unprivileged spawn: %s\n", sandbox.error().message().c_str());
      _exit(23);
    }
    auto outcome = sandbox->wait();
    _exit(outcome && outcome->kind == OutcomeKind::kExited ? outcome->exit_code : 24);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5);
}

TEST_F(SpawnTest, NothingIsLeftBehind) {
  auto layout = pool_->layout();
  std::vector<std::string> parents;
  for (const auto& tree : layout.trees)
    parents.push_back(tree.own_dir + "/sprout-test-" + std::to_string(getpid()));
  for (const auto& dir : parents) EXPECT_TRUE(std::filesystem::exists(dir)) << dir;
  auto run = run_probe({"exit", "0"});
  ASSERT_TRUE(run.outcome.has_value());
  pool_.reset();
  for (const auto& dir : parents) EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  // No mount of ours reached the host's mount table.
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line))
    EXPECT_EQ(line.find("sprout-staging"), std::string::npos) << line;
}

}  // namespace
}  // namespace sprout::testing
