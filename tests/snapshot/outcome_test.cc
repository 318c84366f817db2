// Every failure a function can cause, provoked for real from inside Python,
// and the escapes of the foundation tried again from a handler.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/snapshot/snapshot_fixture.h"

namespace sprout::testing {
namespace {

class OutcomeTest : public SnapshotTest {};

TEST_F(OutcomeTest, SlowHandlerTimesOut) {
  auto snapshot =
      load_ok(python_function("import time\n"
                              "def h(event, context):\n"
                              "    time.sleep(event['sleep'])\n"
                              "    return 'done'\n",
                              "fn.h"));
  ASSERT_TRUE(snapshot);
  auto slow = invoke(*snapshot, R"({"sleep": 5})", 300);
  EXPECT_EQ(slow.status, InvocationStatus::kTimeout) << slow.detail;
  EXPECT_EQ(slow.detail, "Task timed out after 300 ms");
  // Neighbour: a quick call under the same timeout answers.
  EXPECT_EQ(invoke(*snapshot, R"({"sleep": 0})", 300).status, InvocationStatus::kOk);
}

TEST_F(OutcomeTest, AllocationPastTheLimitIsOutOfMemory) {
  if (!pool_->layout().memory) GTEST_SKIP() << "no memory controller";
  auto def = python_function(
      "def h(event, context):\n"
      "    blocks = [bytearray(1 << 20) for _ in range(event['mb'])]\n"
      "    return len(blocks)\n",
      "fn.h");
  def.sandbox.set_memory_limit_bytes(64ull << 20);
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto hog = invoke(*snapshot, R"({"mb": 256})");
  EXPECT_EQ(hog.status, InvocationStatus::kOutOfMemory) << hog.detail;
  EXPECT_NE(hog.detail.find("64 MiB"), std::string::npos);
  auto modest = invoke(*snapshot, R"({"mb": 8})");
  EXPECT_EQ(modest.status, InvocationStatus::kOk) << modest.detail;
  EXPECT_GT(modest.metrics.peak_memory_bytes, 8u << 20);
}

TEST_F(OutcomeTest, SegfaultIsACrashWithItsSignal) {
  auto snapshot =
      load_ok(python_function("import ctypes\n"
                              "def h(event, context):\n"
                              "    ctypes.string_at(0)\n",
                              "fn.h"));
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  EXPECT_EQ(result.status, InvocationStatus::kCrashed);
  EXPECT_EQ(result.detail, "killed by signal SEGV");
}

TEST_F(OutcomeTest, ExitWithoutAnsweringIsACrash) {
  auto snapshot =
      load_ok(python_function("import os\ndef h(event, context):\n    os._exit(3)\n", "fn.h"));
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  EXPECT_EQ(result.status, InvocationStatus::kCrashed);
  EXPECT_EQ(result.detail, "exited with status 3 without answering");
}

TEST_F(OutcomeTest, KernelModuleLoadIsASeccompViolationNamingTheCall) {
  auto snapshot =
      load_ok(python_function("import ctypes\n"
                              "libc = ctypes.CDLL(None, use_errno=True)\n"
                              "def h(event, context):\n"
                              "    libc.syscall(313, 0, b'', 0)  # finit_module\n"
                              "    return 'still here'\n",
                              "fn.h"));
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  EXPECT_EQ(result.status, InvocationStatus::kSeccompViolation) << result.detail;
  EXPECT_EQ(result.detail, "blocked system call finit_module");
}

TEST_F(OutcomeTest, EscapesFromPythonFail) {
  // A host file outside the sandbox, a host port, the read-only root, other
  // namespaces, and the process table: each attempt must fail, each
  // neighbour must work.
  const std::string secret = "/var/tmp/sprout-outcome-secret-" + std::to_string(getpid());
  std::ofstream(secret) << "host secret";
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);

  auto snapshot = load_ok(python_function(
      "import ctypes, errno, os, socket\n"
      "libc = ctypes.CDLL(None, use_errno=True)\n"
      "open('/tmp/left-by-init', 'w').write('x')  # the snapshot's /tmp, not the sandbox's\n"
      "def attempt(fn):\n"
      "    try:\n"
      "        fn()\n"
      "        return 'ok'\n"
      "    except OSError as e:\n"
      "        return errno.errorcode.get(e.errno, str(e.errno))\n"
      "def syscall_errno(nr, *args):\n"
      "    rc = libc.syscall(nr, *args)\n"
      "    return 'ok' if rc >= 0 else errno.errorcode[ctypes.get_errno()]\n"
      "def h(event, context):\n"
      "    def connect(port):\n"
      "        s = socket.socket(); s.settimeout(2); s.connect(('127.0.0.1', port))\n"
      "    def own_loopback():\n"
      "        srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)\n"
      "        c = socket.socket(); c.connect(srv.getsockname())\n"
      "    return {\n"
      "        'read_secret': attempt(lambda: open(event['secret']).read()),\n"
      "        'read_code': attempt(lambda: open('/var/task/fn.py').read()),\n"
      "        'host_port': attempt(lambda: connect(event['port'])),\n"
      "        'own_loopback': attempt(own_loopback),\n"
      "        'write_usr': attempt(lambda: open('/usr/escape', 'w')),\n"
      "        'write_task': attempt(lambda: open('/var/task/escape', 'w')),\n"
      "        'write_tmp': attempt(lambda: open('/tmp/fine', 'w').write('x')),\n"
      "        'write_root': attempt(lambda: open('/escape', 'w')),\n"
      "        'write_dev': attempt(lambda: open('/dev/escape', 'w')),\n"
      "        'dev_null': attempt(lambda: open('/dev/null', 'w').write('x')),\n"
      "        'snapshot_tmp': sorted(os.listdir('/tmp')),\n"
      "        'unshare': syscall_errno(272, 0x10000000),\n"
      "        'mount': syscall_errno(165, b'none', b'/tmp', b'tmpfs', 0, None),\n"
      "        'ptrace': syscall_errno(101, 0, 0, 0, 0),\n"
      "        'processes': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
      "        'uid': os.getuid(),\n"
      "    }\n",
      "fn.h"));
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, R"({"secret": ")" + secret + R"(", "port": )" +
                                      std::to_string(ntohs(address.sin_port)) + "}");
  close(listener);
  (void)std::remove(secret.c_str());
  ASSERT_EQ(result.status, InvocationStatus::kOk) << result.detail << "\n" << result.logs;
  for (const char* expected :
       {R"("read_secret": "ENOENT")", R"("read_code": "ok")", R"("host_port": "ECONNREFUSED")",
        R"("own_loopback": "ok")", R"("write_usr": "EROFS")", R"("write_task": "EROFS")",
        R"("write_tmp": "ok")", R"("unshare": "EPERM")", R"("mount": "EPERM")",
        R"("ptrace": "EPERM")", R"("processes": [1])", R"("uid": 0)"}) {
    EXPECT_NE(result.result.find(expected), std::string::npos)
        << expected << " in " << result.result;
  }
}

}  // namespace
}  // namespace sprout::testing

namespace sprout::testing {
namespace {

TEST_F(OutcomeTest, InitCodeSeesOnlyTheSnapshotsOwnRoot) {
  // A world-readable file at the host's root: the zygote's uid could read
  // it, the function's init (which runs in the snapshot) must not see it.
  const std::string marker = "/sprout-snapshot-marker-" + std::to_string(getpid());
  std::ofstream(marker) << "host";
  chmod(marker.c_str(), 0644);
  auto snapshot =
      load_ok(python_function("import os\n"
                              "SEEN = os.path.exists(" +
                                  std::string("'") + marker +
                                  "')\n"
                                  "ROOT = sorted(os.listdir('/'))\n"
                                  "CACHE = os.path.exists('/etc/ld.so.cache')\n"
                                  "def h(event, context):\n"
                                  "    return {'seen': SEEN, 'root': ROOT, 'cache': CACHE}\n",
                              "fn.h"));
  (void)std::remove(marker.c_str());
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  ASSERT_EQ(result.status, InvocationStatus::kOk) << result.detail;
  EXPECT_EQ(
      result.result,
      R"({"seen": false, "root": ["bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr", "var"], "cache": true})");
}

}  // namespace
}  // namespace sprout::testing
