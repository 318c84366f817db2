// native and exec runtimes, pre-forking, and what happens when a snapshot
// or a zygote dies.
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "snapshot/sandbox_reaper.h"
#include "tests/snapshot/snapshot_fixture.h"

namespace sprout::testing {
namespace {

class LifecycleTest : public SnapshotTest {};

TEST_F(LifecycleTest, NativeExampleRunsItsInitOnceAndAnswers) {
  FunctionDefinition def;
  def.name = "hello-native";
  def.handler = "hello.so";
  def.bundle_format = agent::SINGLE_FILE;
  def.bundle_file_name = "hello.so";
  def.bundle = read_file(SPROUT_NATIVE_HELLO_PATH);
  ASSERT_FALSE(def.bundle.empty());
  auto snapshot = load_ok(def, agent::NATIVE);
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "12345");
  EXPECT_EQ(result.status, InvocationStatus::kOk) << result.detail;
  EXPECT_EQ(result.result,
            R"({"message":"hello from C","bytes":5,"init":42,"function":"hello-native"})");
}

TEST_F(LifecycleTest, NativeMissingSymbolIsAnInitError) {
  FunctionDefinition def;
  def.name = "not-native";
  def.handler = "missing.so";
  def.bundle_file_name = "other.so";
  def.bundle = "not an ELF file";
  auto loaded = load(def, agent::NATIVE);
  EXPECT_FALSE(loaded.init.ok());
  EXPECT_EQ(loaded.init.error_type(), "Runtime.InvalidEntrypoint");
}

TEST_F(LifecycleTest, ExecExampleReadsStdinAndAnswersOnStdout) {
  FunctionDefinition def;
  def.name = "hello-exec";
  def.handler = "run.sh";
  def.bundle_file_name = "run.sh";
  def.bundle = read_file(SPROUT_EXAMPLES_DIR "/exec/hello/run.sh");
  auto snapshot = load_ok(def, agent::EXEC);
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, R"({"x": 1})");
  EXPECT_EQ(result.status, InvocationStatus::kOk) << result.detail << result.logs;
  EXPECT_EQ(result.result, R"({"message":"hello from sh","payload":{"x": 1}})");
}

TEST_F(LifecycleTest, ExecNonZeroExitIsAFunctionError) {
  FunctionDefinition def;
  def.name = "failing-exec";
  def.handler = "fail.sh";
  def.bundle_file_name = "fail.sh";
  def.bundle = "#!/bin/sh\necho 'something broke' >&2\nexit 4\n";
  auto snapshot = load_ok(def, agent::EXEC);
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "");
  EXPECT_EQ(result.status, InvocationStatus::kFunctionError);
  EXPECT_EQ(result.error_message, "exited with status 4");
  EXPECT_EQ(result.logs, "something broke\n");
}

TEST_F(LifecycleTest, TarBundleWithPackageLaysOutADirectory) {
  // A tar stream made by Python's tarfile (pax format), holding a package.
  FunctionDefinition def = python_function("", "app.main.handler");
  def.bundle_format = agent::TAR;
  def.bundle = read_file(SPROUT_TEST_TAR_BUNDLE);
  ASSERT_FALSE(def.bundle.empty());
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  EXPECT_EQ(result.status, InvocationStatus::kOk) << result.detail;
  EXPECT_EQ(result.result, R"({"helper": "from a package", "data": "data file\n"})");
}

TEST_F(LifecycleTest, PreforkedSandboxesServeFirst) {
  auto snapshot = load_ok(python_function("def h(event, context):\n    return 1\n", "fn.h"));
  ASSERT_TRUE(snapshot);
  ASSERT_TRUE(snapshot->prefork(2).has_value());
  EXPECT_EQ(snapshot->idle_count(), 2u);
  auto first = invoke(*snapshot, "{}");
  EXPECT_TRUE(first.metrics.preforked);
  EXPECT_EQ(first.metrics.fork_us, 0u);  // it was ready: no wait at all
  EXPECT_EQ(snapshot->idle_count(), 1u);
  invoke(*snapshot, "{}");
  auto third = invoke(*snapshot, "{}");
  EXPECT_FALSE(third.metrics.preforked);
  EXPECT_EQ(third.status, InvocationStatus::kOk);
}

TEST_F(LifecycleTest, ZipThatUnpacksFarLargerThanItselfIsLaidOut) {
  // 40 MiB of zeros deflate to ~40 KiB: the code's file system is sized by
  // what the zip unpacks to, not by the zip's own size.
  char path[] = "/tmp/sprout-zip-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  const std::string make =
      std::string("/usr/bin/python3 -c \"import zipfile,sys\n"
                  "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n"
                  "    z.writestr('app.py', 'import os\\ndef h(e, c):\\n    return os.path.getsize(\\'/var/task/big.bin\\')\\n')\n"
                  "    z.writestr('big.bin', bytes(40 << 20))\" ") +
      path;
  ASSERT_EQ(std::system(make.c_str()), 0);
  FunctionDefinition def = python_function("", "app.h");
  def.bundle_format = agent::ZIP;
  def.bundle = read_file(path);
  unlink(path);
  ASSERT_LT(def.bundle.size(), 1u << 20);
  def.sandbox.set_memory_limit_bytes(256ull << 20);  // tmpfs pages count against it
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  EXPECT_EQ(result.status, InvocationStatus::kOk) << result.detail << result.logs;
  EXPECT_EQ(result.result, std::to_string(40 << 20));
}

TEST_F(LifecycleTest, PreforkIsHandedOutOnlyOnceWarm) {
  // The function's own at-fork hook runs in every sandbox before its
  // warm-up. A pre-fork whose hook holds it past the fork deadline never
  // reaches the pool: it is killed, and the error says why.
  FunctionDefinition def =
      python_function("import os, time\n"
                      "os.register_at_fork(after_in_child=lambda: time.sleep(3600))\n"
                      "def h(event, context):\n    return 1\n",
                      "fn.h");
  def.fork_timeout_ms = 1000;
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto forked = snapshot->prefork(1);
  ASSERT_FALSE(forked.has_value());
  EXPECT_NE(forked.error().message().find("did not warm up within"), std::string::npos)
      << forked.error().message();
  EXPECT_EQ(snapshot->idle_count(), 0u);
  EXPECT_EQ(snapshot->preforks_in_flight(), 0u);
  EXPECT_TRUE(snapshot->alive());  // the snapshot itself did its part
}

TEST_F(LifecycleTest, AForbiddenCallInAForkHookEndsThePreforkNotARequest) {
  // The at-fork hook (function code) runs during the warm-up, before any
  // request: its forbidden call ends that sandbox at once (its seccomp
  // listener is watched while it warms up), long before the fork deadline,
  // and nothing reaches the pool.
  FunctionDefinition def =
      python_function("import ctypes, os\n"
                      "libc = ctypes.CDLL(None, use_errno=True)\n"
                      "os.register_at_fork(after_in_child=lambda: libc.syscall(313, 0, b'', 0))\n"
                      "def h(event, context):\n    return 1\n",
                      "fn.h");
  def.fork_timeout_ms = 60000;
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto forked = snapshot->prefork(1);
  ASSERT_FALSE(forked.has_value());
  EXPECT_EQ(forked.error().message().find("did not warm up within"), std::string::npos)
      << "waited for the deadline: " << forked.error().message();
  EXPECT_EQ(snapshot->idle_count(), 0u);
  EXPECT_TRUE(snapshot->alive());
}

TEST_F(LifecycleTest, InvocationTakesThePreforkInFlightInsteadOfForking) {
  // Each sandbox's at-fork hook takes a while, so that the invocation
  // below finds the pool empty while a pre-fork is on its way; it must
  // wait for that one (served pre-forked) rather than fork another.
  FunctionDefinition def =
      python_function("import os, time\n"
                      "os.register_at_fork(after_in_child=lambda: time.sleep(1))\n"
                      "def h(event, context):\n    return os.getpid()\n",
                      "fn.h");
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  std::thread refill([&] { EXPECT_TRUE(snapshot->prefork(1).has_value()); });
  const bool in_flight = wait_until([&] { return snapshot->preforks_in_flight() == 1; },
                                    std::chrono::seconds(30));
  auto result = invoke(*snapshot, "{}");
  refill.join();
  ASSERT_TRUE(in_flight);
  EXPECT_EQ(result.status, InvocationStatus::kOk) << result.detail;
  EXPECT_TRUE(result.metrics.preforked);
  EXPECT_EQ(snapshot->idle_count(), 0u);  // the pre-fork served it; none was left over
}

// PIDFD_GET_INFO with the exit status: Linux 6.15 and later.
bool kernel_has_pidfd_exit_info() {
  utsname name{};
  uname(&name);
  int major = 0, minor = 0;
  if (sscanf(name.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 15);
}

TEST_F(LifecycleTest, KilledSnapshotGivesAClearErrorAndLeavesNothing) {
  auto snapshot =
      load_ok(python_function("import time\ndef h(event, context):\n    "
                              "time.sleep(event.get('sleep', 0))\n    return 'ok'\n",
                              "fn.h"));
  ASSERT_TRUE(snapshot);
  // Everything of a function lives in its snapshot's pid namespace: an
  // invocation in flight when the snapshot dies ends with it, as CRASHED
  // (never a hang), and the kernel tells sproutd the signal.
  std::optional<Result<InvocationResult>> in_flight;
  std::thread caller([&] { in_flight = snapshot->invoke({.payload = R"({"sleep": 30})"}); });
  // Wait until the handler runs: the snapshot's child (the sandbox) sleeps
  // in clock_nanosleep (time.sleep), so the fork and the request are done.
  auto handler_running = [&] {
    std::ifstream children("/proc/" + std::to_string(snapshot->pid()) + "/task/" +
                           std::to_string(snapshot->pid()) + "/children");
    pid_t child = 0;
    while (children >> child) {
      std::ifstream syscall_file("/proc/" + std::to_string(child) + "/syscall");
      long nr = -1;
      if (syscall_file >> nr && nr == SYS_clock_nanosleep) return true;
    }
    return false;
  };
  EXPECT_TRUE(wait_until(handler_running, std::chrono::seconds(30)))
      << "the invocation never reached its handler";
  snapshot->kill();
  caller.join();
  ASSERT_TRUE(in_flight->has_value()) << in_flight->error().message();
  EXPECT_EQ((*in_flight)->status, InvocationStatus::kCrashed) << (*in_flight)->detail;
  if (kernel_has_pidfd_exit_info()) {
    EXPECT_NE((*in_flight)->detail.find("KILL"), std::string::npos) << (*in_flight)->detail;
  }
  // The next call says what happened, and a new snapshot works. (The
  // snapshot's own end completes after its pid namespace is emptied.)
  EXPECT_TRUE(wait_until([&] { return !snapshot->alive(); }, std::chrono::seconds(30)));
  auto next = snapshot->invoke({.payload = "{}"});
  ASSERT_FALSE(next.has_value());
  EXPECT_NE(next.error().message().find("function snapshot test-fn@7 killed by signal KILL"),
            std::string::npos)
      << next.error().message();
  auto fresh = load_ok(python_function("def h(event, context):\n    return 'again'\n", "fn.h"));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(invoke(*fresh, "{}").result, "\"again\"");
  snapshot.reset();
  fresh.reset();
  zygotes_.clear();
  SandboxReaper::instance().wait_until_empty();
  // Every process we started (zygote, snapshots, sandboxes) is reaped.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(LifecycleTest, DeadZygoteIsReportedOnLoad) {
  auto& python = zygote(agent::PYTHON3);
  kill(python.pid(), SIGKILL);
  // The kernel ends a killed process on its own time: wait for it, however slow.
  EXPECT_TRUE(wait_until([&] { return !python.alive(); }, std::chrono::seconds(30)));
  auto loaded = python.load(python_function("def h(e, c):\n    return 1\n", "fn.h"), pool_.get(), host_id());
  ASSERT_FALSE(loaded.has_value());
  EXPECT_NE(loaded.error().message().find("runtime zygote python3 died: killed by signal KILL"),
            std::string::npos)
      << loaded.error().message();
}

TEST_F(LifecycleTest, ZygoteWhoseAgentCannotBeExecutedNamesTheExecAndItsErrno) {
  // A file that opens (the agent is held by descriptor) but does not execute:
  // the child's exec fails, and that failure, not an exit status, is the error.
  char path[] = "/tmp/sprout-agent-not-executable-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_EQ(chmod(path, 0644), 0);
  auto started =
      RuntimeZygote::start({.runtime = agent::PYTHON3, .agent_path = path, .ids = host_id()});
  unlink(path);
  ASSERT_FALSE(started.has_value()) << "a zygote started from a file that cannot be executed";
  EXPECT_EQ(started.error().message(),
            std::string("exec sprout-agent ") + path + ": EACCES (Permission denied)");
  // The failed child is reaped.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(LifecycleTest, BundleWithEscapingPathIsRefused) {
  FunctionDefinition def = python_function("", "fn.h");
  def.bundle_format = agent::TAR;
  def.bundle = read_file(SPROUT_TEST_EVIL_TAR_BUNDLE);
  ASSERT_FALSE(def.bundle.empty());
  auto loaded = load(def);
  EXPECT_FALSE(loaded.init.ok());
  EXPECT_EQ(loaded.init.error_type(), "Runtime.SnapshotSetupError");
  EXPECT_NE(loaded.init.error_message().find("escaping path: '../escape.py'"), std::string::npos)
      << loaded.init.error_message();
}

}  // namespace
}  // namespace sprout::testing

namespace sprout::testing {
namespace {

TEST_F(LifecycleTest, SandboxSetupFailureIsReportedWithItsStep) {
  // A host name longer than the kernel allows makes every sandbox's setup
  // fail at sethostname, after the snapshot has already answered the fork.
  auto def = python_function("def h(event, context):\n    return 1\n", "fn.h");
  def.sandbox.set_hostname(std::string(100, 'x'));
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  EXPECT_EQ(result.status, InvocationStatus::kInternal);
  EXPECT_EQ(result.detail, "sandbox setup failed: sethostname: EINVAL");
}

}  // namespace
}  // namespace sprout::testing
