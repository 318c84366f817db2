// The confinement of function snapshots and sandboxes as the function itself
// sees it, through a real sproutd: denied system calls at init, in a fork
// hook and in the handler; the credentials, capabilities, seccomp state,
// namespaces, id maps, mounts and descriptors of every thread (gVisor-style
// posture checks); an exec function's descriptors; the billing of CPU spent
// before the request. Each test says which outcome it provokes.
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>

#include "tests/e2e/attack_fixture.h"

namespace sprout::testing {
namespace {

using std::chrono::seconds;

class SnapshotPostureTest : public AttackTest {};

// --- 2. Denied system calls ------------------------------------------------------

const char kProbes[] = R"PY(
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000


def p_io_uring_setup():
    params = ctypes.create_string_buffer(120)
    return sys_call(425, 4, params)


def p_userfaultfd():
    return sys_call(323, os.O_CLOEXEC | 1)  # UFFD_USER_MODE_ONLY: allowed without privilege


def p_add_key():
    return sys_call(248, ctypes.c_char_p(b"user"), ctypes.c_char_p(b"sprout-probe"),
                    ctypes.c_char_p(b"x"), 1, -2)  # into KEY_SPEC_PROCESS_KEYRING


def p_keyctl():
    return sys_call(250, 0, -3, 1)  # KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING, create)


def p_ptrace():
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    r = sys_call(101, 0x4206, pid, 0, 0)  # PTRACE_SEIZE of our own child
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return r


def p_perf_event_open():
    attr = ctypes.create_string_buffer(64)
    struct.pack_into("IIQ", attr, 0, 1, 64, 0)  # PERF_TYPE_SOFTWARE, size, SW_CPU_CLOCK
    struct.pack_into("Q", attr, 40, 1 | 1 << 5 | 1 << 6)  # disabled, exclude_kernel, exclude_hv
    return sys_call(298, attr, 0, -1, -1, 0)


def p_unshare():
    return sys_call(272, CLONE_NEWNS | CLONE_NEWUSER)


def p_mount():
    sys_call(272, CLONE_NEWNS | CLONE_NEWUSER)  # a mount namespace of our own, if we may
    return sys_call(165, ctypes.c_char_p(b"none"), ctypes.c_char_p(b"/tmp"),
                    ctypes.c_char_p(b"tmpfs"), 0, None)


def p_socket_vsock():
    return sys_call(41, 40, 1, 0)  # socket(AF_VSOCK, SOCK_STREAM, 0)


def p_modify_ldt():
    buf = ctypes.create_string_buffer(16)
    return sys_call(154, 0, buf, 16)  # read the LDT


def p_memfd_secret():
    return sys_call(447, 0)


PROBES = {name[2:]: fn for name, fn in list(globals().items()) if name.startswith("p_")}


def probe(names):
    # Each call in a forked child: a call that is fatal kills only the child
    # (reported as killed_by), and one that succeeds changes nothing here.
    return {name: in_child(PROBES[name]) for name in names if name}


INIT = probe(os.environ.get("AT_INIT", "").split(","))
HOOK = {}


def before_fork():
    if FORKING[0] or HOOK:
        return
    HOOK.update(probe(os.environ.get("AT_HOOK", "").split(",")))


os.register_at_fork(before=before_fork)


def handler(event, context):
    return {"init": INIT, "hook": HOOK, "handler": probe(event.get("probe", []))}
)PY";

const std::vector<std::string> kDeniedCalls = {
    "io_uring_setup", "userfaultfd", "add_key",      "keyctl",     "ptrace",      "perf_event_open",
    "unshare",        "mount",       "socket_vsock", "modify_ldt", "memfd_secret"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// "" when the probe shows the call failed: an errno, or the child killed (a
// seccomp kill action); otherwise what happened.
std::string success_or_broken(const Json& outcome) {
  if (outcome.has("killed_by")) return "";
  if (outcome.has("result")) {
    const Json& r = outcome["result"];
    if (r["ret"].is_number() && r["ret"].as_int() == -1 && r["errno"].as_int() != 0) return "";
    return "SUCCEEDED: " + outcome.dump();
  }
  return "probe did not run: " + outcome.dump();
}

// Provokes: io_uring_setup, userfaultfd (user-mode-only, allowed without
// privilege), add_key, keyctl, ptrace (PTRACE_SEIZE of its own child),
// perf_event_open (self-monitoring, allowed at perf_event_paranoid 2),
// unshare(CLONE_NEWNS|CLONE_NEWUSER), mount (after that unshare),
// socket(AF_VSOCK), modify_ldt and memfd_secret -- all of which succeed for
// an unconfined process on this kernel -- through ctypes syscall(), each in a
// forked child, at init (in the snapshot), in a before-fork hook (in the
// snapshot, at each fork) and in the handler (in the sandbox). Before the
// redesign the snapshot has no seccomp filter at all, and the sandbox's lets
// AF_VSOCK, modify_ldt and memfd_secret through. Expected: every call fails,
// with an errno or a seccomp kill (for the handler, SECCOMP_VIOLATION is
// accepted too); never success.
TEST_F(SnapshotPostureTest, DeniedCallsFailAtInitInForkHooksAndInTheHandler) {
  start();
  std::map<std::string, std::map<std::string, std::string>> verdicts;  // where -> call -> "" | why
  std::map<std::string, std::map<std::string, std::string>> shown;     // where -> call -> outcome

  // Init: all calls in one deploy; one deploy per call if that fails (a call
  // whose denial takes the whole snapshot down).
  auto init_all =
      deploy("den-init", kProbes, tag("di"), {"--env", "AT_INIT=" + join(kDeniedCalls)});
  Invoked init_answer;
  if (init_all.ok()) init_answer = invoke("den-init", R"({"probe": []})");
  if (init_answer.status == api::OK) {
    for (const auto& call : kDeniedCalls)
      verdicts["init"][call] = success_or_broken(init_answer.json["init"][call]);
  } else {
    std::printf("[   info   ] init probes together: %s %s; one deploy per call\n",
                init_all.text.c_str(), init_answer.describe().c_str());
    for (const auto& call : kDeniedCalls) {
      const std::string name = "den-init-" + call;
      auto one = deploy(name, kProbes, tag("di1"), {"--env", "AT_INIT=" + call});
      if (!one.ok()) {
        verdicts["init"][call] = "";  // the denial failed the init
        std::printf("[   info   ] init %s: deploy %s\n", call.c_str(), one.text.c_str());
        continue;
      }
      auto answer = invoke(name, R"({"probe": []})");
      verdicts["init"][call] = answer.status == api::OK
                                   ? success_or_broken(answer.json["init"][call])
                                   : "probe lost: " + answer.describe();
      cli({"rm", name});
    }
  }

  // Before-fork hook: the snapshot runs it at each fork.
  auto hook_all = deploy("den-hook", kProbes, tag("dh"),
                         {"--no-prefork", "--env", "AT_HOOK=" + join(kDeniedCalls)});
  ASSERT_TRUE(hook_all.ok()) << hook_all.text;
  auto hook_answer = invoke("den-hook", R"({"probe": []})");
  if (hook_answer.status == api::OK) {
    for (const auto& call : kDeniedCalls)
      verdicts["hook"][call] = success_or_broken(hook_answer.json["hook"][call]);
  } else {
    std::printf("[   info   ] hook probes together: %s; one function per call\n",
                hook_answer.describe().c_str());
    for (const auto& call : kDeniedCalls) {
      const std::string name = "den-hook-" + call;
      auto one = deploy(name, kProbes, tag("dh1"), {"--no-prefork", "--env", "AT_HOOK=" + call});
      ASSERT_TRUE(one.ok()) << one.text;
      auto answer = invoke(name, R"({"probe": []})");
      // A fork that fails because the hook's call was fatal to the snapshot
      // is a denial too.
      verdicts["hook"][call] =
          answer.status == api::OK ? success_or_broken(answer.json["hook"][call]) : "";
      if (answer.status != api::OK)
        std::printf("[   info   ] hook %s: %s\n", call.c_str(), answer.describe().c_str());
      cli({"rm", name});
    }
  }

  // Handler: one invocation per call, since a fatal call ends the sandbox.
  auto handler_fn = deploy("den-handler", kProbes, tag("dx"), {});
  ASSERT_TRUE(handler_fn.ok()) << handler_fn.text;
  for (const auto& call : kDeniedCalls) {
    auto answer = invoke("den-handler", R"({"probe": [")" + call + R"("]})");
    shown["handler"][call] =
        answer.status == api::OK ? answer.json["handler"][call].dump() : answer.describe();
    if (answer.status == api::OK) {
      verdicts["handler"][call] = success_or_broken(answer.json["handler"][call]);
    } else if (answer.status == api::SECCOMP_VIOLATION ||
               (answer.status == api::CRASHED && answer.detail.find("SYS") != std::string::npos)) {
      verdicts["handler"][call] = "";
      std::printf("[   info   ] handler %s: %s\n", call.c_str(), answer.describe().c_str());
    } else {
      verdicts["handler"][call] = "unexpected status: " + answer.describe();
    }
  }

  for (const auto& [where, calls] : verdicts) {
    for (const auto& [call, why] : calls) {
      EXPECT_EQ(why, "") << call << " at " << where;
      std::string outcome = where == "init"   ? init_answer.json["init"][call].dump()
                            : where == "hook" ? hook_answer.json["hook"][call].dump()
                                              : shown[where][call];
      std::printf("[   info   ] %-8s %-16s %s %s\n", where.c_str(), call.c_str(),
                  why.empty() ? "denied" : "NOT DENIED", outcome == "null" ? "" : outcome.c_str());
    }
  }
  EXPECT_EQ(verdicts["init"].size(), kDeniedCalls.size());
  EXPECT_EQ(verdicts["hook"].size(), kDeniedCalls.size());
  EXPECT_EQ(verdicts["handler"].size(), kDeniedCalls.size());
  // A harmless neighbour: the probing function itself still answers.
  auto fine = invoke("den-handler", R"({"probe": []})");
  EXPECT_EQ(fine.status, api::OK) << fine.describe();
}

// --- 10. Exec functions get no invocation channel ----------------------------------

const char kExecForger[] = R"SH(#!/bin/sh
# Lists the shell's own descriptors (ls runs in a child; the shell holds no
# transient descriptor meanwhile), then tries to answer on fd 3.
ls /proc/$$/fd > /tmp/fds 2>&1
ls -l /proc/$$/fd > /tmp/fds-long 2>&1
if { echo '{"forged": true}' >&3; } 2>/dev/null; then fd3=open; else fd3=closed; fi
payload=$(cat)
fds=$(tr '\n' ' ' < /tmp/fds)
echo "fd3=$fd3 fds=$fds" >&2
cat /tmp/fds-long >&2
printf '{"fd3": "%s", "fds": "%s", "payload": %s}' "$fd3" "$fds" "${payload:-null}"
)SH";

// Provokes: an exec function (a shell script) writes a forged answer to fd 3
// -- the sandbox agent's invocation channel -- and lists its descriptors.
// Before the redesign the executable inherits the channel. Expected: fd 3
// does not exist in the executable, and the invocation's result is exactly
// what the script printed on stdout.
TEST_F(SnapshotPostureTest, ExecFunctionHasNoInvocationChannel) {
  start();
  const std::string script = write_temp_file("exec-forger/forge.sh", kExecForger);
  auto deployed = deploy_file("forger", "exec", script);
  ASSERT_TRUE(deployed.ok()) << deployed.text;
  auto answer = invoke("forger", R"({"n": 42})");
  ASSERT_TRUE(answer.answered) << answer.describe();
  EXPECT_EQ(answer.status, api::OK) << answer.describe();
  // The script's stderr (the invocation's logs) tells even when a forged
  // answer cost the result.
  EXPECT_EQ(answer.logs.find("fd3=open"), std::string::npos) << "logs: " << answer.logs;
  ASSERT_TRUE(answer.json.is_object())
      << "the result is not the script's stdout: " << answer.describe();
  EXPECT_EQ(answer.json["payload"]["n"].as_int(), 42) << answer.result;
  EXPECT_EQ(answer.json["fd3"].as_string(), "closed") << "the executable could write to fd 3";
  std::set<std::string> fds;
  std::istringstream listed(answer.json["fds"].as_string());
  std::string fd;
  while (listed >> fd) fds.insert(fd);
  EXPECT_FALSE(fds.empty()) << answer.result;
  EXPECT_EQ(fds.count("3"), 0u) << "fd 3 is open in the executable: "
                                << answer.json["fds"].as_string();
  EXPECT_EQ(fds.count("0") + fds.count("1") + fds.count("2"), 3u) << answer.json["fds"].as_string();
  // The neighbour: a second invocation answers the same way.
  auto again = invoke("forger", R"({"n": 7})");
  EXPECT_EQ(again.status, api::OK) << again.describe();
  EXPECT_EQ(again.json["payload"]["n"].as_int(), 7) << again.result;
}

// --- 11. Posture of the snapshot and the sandbox ------------------------------------

const char kPosture[] = R"PY(
def posture():
    out = {"pid": os.getpid(), "threads": {}, "ns": {}, "fds": {}}
    for tid in os.listdir("/proc/self/task"):
        fields = {}
        with open("/proc/self/task/%s/status" % tid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                           "Seccomp", "Seccomp_filters", "NoNewPrivs"):
                    fields[key] = " ".join(value.split())
        out["threads"][tid] = fields
    for name in ("uid_map", "gid_map", "setgroups", "cgroup", "mountinfo"):
        try:
            with open("/proc/self/" + name) as f:
                out[name] = f.read()
        except OSError as e:
            out[name] = "unreadable: " + str(e)
    for ns in os.listdir("/proc/self/ns"):
        try:
            out["ns"][ns] = os.readlink("/proc/self/ns/" + ns)
        except OSError:
            pass
    for fd in os.listdir("/proc/self/fd"):
        try:
            out["fds"][fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            pass  # the descriptor listdir itself used, closed by now
    return out


SNAPSHOT = posture()
print("POSTURE " + json.dumps(SNAPSHOT))


def handler(event, context):
    return {"snapshot": SNAPSHOT, "sandbox": posture()}
)PY";

struct IdMapLine {
  uint64_t inside = 0, outside = 0, count = 0;
};

std::vector<IdMapLine> parse_id_map(const std::string& text) {
  std::vector<IdMapLine> lines;
  std::istringstream in(text);
  IdMapLine line;
  while (in >> line.inside >> line.outside >> line.count) lines.push_back(line);
  return lines;
}

struct MountLine {
  std::string device, root, point, type;
};

std::vector<MountLine> parse_mountinfo(const std::string& text) {
  std::vector<MountLine> mounts;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent;
    MountLine mount;
    fields >> id >> parent >> mount.device >> mount.root >> mount.point;
    auto dash = line.find(" - ");
    if (dash != std::string::npos) std::istringstream(line.substr(dash + 3)) >> mount.type;
    mounts.push_back(mount);
  }
  return mounts;
}

constexpr uint64_t kHostIdRangeStart = 3000000000u;
const char kZeroCaps[] = "0000000000000000";

class PostureChecks {
 public:
  PostureChecks(const Json& posture, std::string where) : p_(posture), where_(std::move(where)) {}

  void every_thread(const std::string& key, const std::string& expected) const {
    EXPECT_GT(p_["threads"].size(), 0u) << where_;
    for (const auto& [tid, fields] : p_["threads"].members())
      EXPECT_EQ(fields[key].as_string(), expected) << where_ << " thread " << tid << " " << key;
  }
  void no_capabilities() const {
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
      every_thread(set, kZeroCaps);
  }
  void mounts_hide_the_host(const std::string& host_proc_device,
                            const std::string& test_dir) const {
    const std::string text = p_["mountinfo"].as_string();
    EXPECT_FALSE(text.empty()) << where_;
    EXPECT_EQ(text.find(test_dir), std::string::npos)
        << where_ << ": the test's state dir / socket is mounted:\n"
        << text;
    for (const auto& mount : parse_mountinfo(text)) {
      EXPECT_FALSE(mount.type == "proc" && mount.device == host_proc_device)
          << where_ << ": the host's /proc is mounted at " << mount.point;
      for (const char* hidden : {"/run/sprout", "/var/lib/sprout", "/home"}) {
        EXPECT_NE(mount.point.rfind(hidden, 0), 0u) << where_ << ": " << hidden << " mounted";
        EXPECT_NE(mount.root.rfind(hidden, 0), 0u) << where_ << ": " << hidden << " bound";
      }
    }
  }
  std::string ns(const std::string& name) const { return p_["ns"][name].as_string(); }

 private:
  const Json& p_;
  std::string where_;
};

// Provokes nothing: reads, from inside, the whole posture of a function's
// snapshot (at init, also printed to the init logs) and of its sandbox (in
// the handler), for every thread. Before the redesign the snapshot runs as
// uid 65534 (the zygotes' uid) with no seccomp filter, in the host's pid
// namespace, with the host's /proc bound in. Expected, snapshot: uid/gid
// 1000 inside, mapped to one host id >= 3000000000 that no other function and
// no zygote has; no capability in any set; Seccomp 2; NoNewPrivs 1; a pid
// namespace that is not the host's; no host /proc, /run/sprout,
// /var/lib/sprout, /home or test state in its mounts, nor among its
// descriptors. Sandbox: uid/gid 0 inside, mapped onto the snapshot's 1000
// (so onto the function's host id, checked on the host on an idle pre-forked
// sandbox); no capabilities; Seccomp 2 with at least two filters (both
// tiers); NoNewPrivs 1; every namespace different from the snapshot's;
// descriptors 0-3 only.
TEST_F(SnapshotPostureTest, SnapshotAndSandboxPostureForEveryThread) {
  start();
  auto first = deploy("posture", kPosture, tag("p1"),
                      {"--tenant", "tpost", "--prefork-min", "1", "--prefork-max", "1"});
  ASSERT_TRUE(first.ok()) << first.text;
  auto second = deploy("posture2", kPosture, tag("p2"), {"--tenant", "tpost"});
  ASSERT_TRUE(second.ok()) << second.text;
  EXPECT_NE(first.json["init_logs"].as_string().find("POSTURE {"), std::string::npos)
      << "the init's print reaches the deploy's init logs: " << first.text.substr(0, 2000);

  auto answer = invoke("posture");
  ASSERT_EQ(answer.status, api::OK) << answer.describe();
  auto other = invoke("posture2");
  ASSERT_EQ(other.status, api::OK) << other.describe();
  const Json& snapshot = answer.json["snapshot"];
  const Json& sandbox = answer.json["sandbox"];
  std::printf("[   info   ] snapshot posture: %s\n", snapshot.dump().substr(0, 3000).c_str());
  std::printf("[   info   ] sandbox posture: %s\n", sandbox.dump().substr(0, 3000).c_str());

  const std::string host_proc = device_of("/proc");
  const std::string host_pid_ns = namespace_of(getpid(), "pid");

  // The snapshot.
  {
    SCOPED_TRACE("snapshot");
    PostureChecks checks(snapshot, "snapshot");
    checks.every_thread("Uid", "1000 1000 1000 1000");
    checks.every_thread("Gid", "1000 1000 1000 1000");
    checks.no_capabilities();
    checks.every_thread("Seccomp", "2");
    checks.every_thread("NoNewPrivs", "1");
    checks.mounts_hide_the_host(host_proc, dir_);
    EXPECT_NE(checks.ns("pid"), host_pid_ns) << "the snapshot shares the host's pid namespace";
    for (const char* name : {"user", "mnt", "net", "ipc", "uts"})
      EXPECT_NE(checks.ns(name), namespace_of(getpid(), name)) << name;
    for (const auto& [fd, target] : snapshot["fds"].members()) {
      EXPECT_EQ(target.as_string().find(dir_), std::string::npos) << "fd " << fd;
      EXPECT_EQ(target.as_string().rfind("/var/lib/sprout", 0), std::string::npos) << "fd " << fd;
      EXPECT_EQ(target.as_string().rfind("/run/sprout", 0), std::string::npos) << "fd " << fd;
    }
  }
  auto uid_map = parse_id_map(snapshot["uid_map"].as_string());
  auto gid_map = parse_id_map(snapshot["gid_map"].as_string());
  ASSERT_EQ(uid_map.size(), 1u) << snapshot["uid_map"].as_string();
  ASSERT_EQ(gid_map.size(), 1u) << snapshot["gid_map"].as_string();
  const uint64_t host_uid = uid_map[0].outside;
  EXPECT_EQ(uid_map[0].inside, 1000u);
  EXPECT_EQ(uid_map[0].count, 1u);
  EXPECT_GE(host_uid, kHostIdRangeStart) << "the snapshot's host uid is outside the id range";
  EXPECT_EQ(gid_map[0].inside, 1000u);
  EXPECT_EQ(gid_map[0].count, 1u);
  EXPECT_GE(gid_map[0].outside, kHostIdRangeStart)
      << "the snapshot's host gid is outside the id range";
  auto other_map = parse_id_map(other.json["snapshot"]["uid_map"].as_string());
  ASSERT_EQ(other_map.size(), 1u);
  EXPECT_NE(other_map[0].outside, host_uid) << "two functions share a host uid";
  auto on_host = snapshot_of(tag("p1"));
  ASSERT_TRUE(on_host);
  EXPECT_EQ(on_host->uid, host_uid) << "the host sees the snapshot under another uid";
  auto zygote_list = zygotes();
  EXPECT_FALSE(zygote_list.empty());
  for (const auto& zygote : zygote_list)
    EXPECT_NE(zygote.uid, host_uid) << "the snapshot runs as zygote " << zygote.pid << "'s uid";

  // The sandbox.
  {
    SCOPED_TRACE("sandbox");
    PostureChecks checks(sandbox, "sandbox");
    checks.every_thread("Uid", "0 0 0 0");
    checks.every_thread("Gid", "0 0 0 0");
    checks.no_capabilities();
    checks.every_thread("Seccomp", "2");
    checks.every_thread("NoNewPrivs", "1");
    for (const auto& [tid, fields] : sandbox["threads"].members()) {
      EXPECT_GE(std::atoi(fields["Seccomp_filters"].as_string().c_str()), 2)
          << "thread " << tid << ": the sandbox is not under both tiers' filters";
    }
    checks.mounts_hide_the_host(host_proc, dir_);
    for (const char* name : {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"}) {
      EXPECT_NE(checks.ns(name), PostureChecks(snapshot, "snapshot").ns(name))
          << "the sandbox shares the snapshot's " << name << " namespace";
      EXPECT_FALSE(checks.ns(name).empty()) << name;
    }
    std::set<std::string> fds;
    for (const auto& [fd, target] : sandbox["fds"].members()) fds.insert(fd);
    EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", "3"})) << sandbox["fds"].dump();
  }
  auto sandbox_map = parse_id_map(sandbox["uid_map"].as_string());
  ASSERT_EQ(sandbox_map.size(), 1u) << sandbox["uid_map"].as_string();
  EXPECT_EQ(sandbox_map[0].inside, 0u);
  EXPECT_EQ(sandbox_map[0].outside, 1000u) << "mapped onto the snapshot's own id";
  EXPECT_EQ(sandbox_map[0].count, 1u);
  // On the host: an idle pre-forked sandbox of the function runs as its host uid.
  std::optional<ProcessInfo> idle_sandbox;
  wait_until(
      [&] {
        auto snap = snapshot_of(tag("p1"), std::chrono::milliseconds(0));
        if (!snap) return false;
        for (const auto& p : processes_named(tag("p1")))
          if (p.state != 'Z' && p.nspid.size() > snap->nspid.size()) idle_sandbox = p;
        return idle_sandbox.has_value();
      },
      seconds(10));
  ASSERT_TRUE(idle_sandbox) << "no pre-forked sandbox found on the host";
  EXPECT_EQ(idle_sandbox->uid, host_uid) << "the sandbox's host uid is not the function's";
  EXPECT_NE(namespace_of(idle_sandbox->pid, "pid"), namespace_of(on_host->pid, "pid"));
}

// --- CPU before the request is billed -------------------------------------------------

// Provokes: an after_in_child fork hook that burns 200 ms of CPU in every
// new sandbox, so that a pre-forked sandbox spends it before its request.
// Expected: a pre-forked invocation's `sprout invoke --json` carries
// metrics.prerequest_cpu_us, above 100000.
TEST_F(SnapshotPostureTest, CpuBurnedBeforeTheRequestIsBilled) {
  start();
  auto deployed = deploy("burner",
                         "def burn():\n"
                         "    if FORKING[0]:\n"
                         "        return\n"
                         "    start = time.thread_time()\n"
                         "    while time.thread_time() - start < 0.2:\n"
                         "        pass\n"
                         "\n"
                         "os.register_at_fork(after_in_child=burn)\n"
                         "\n"
                         "def handler(event, context):\n"
                         "    return 'ok'\n",
                         tag("cpu"), {"--prefork-min", "1", "--prefork-max", "1"});
  ASSERT_TRUE(deployed.ok()) << deployed.text;
  Json metrics;
  for (int attempt = 0; attempt < 5 && metrics.is_null(); ++attempt) {
    ASSERT_TRUE(wait_until([&] { return idle_sandboxes("burner") > 0; }, seconds(20)))
        << "no pre-forked sandbox";
    // Wait until the idle sandbox has burned its 200 ms and sleeps, waiting
    // for its request: then all of it happened before the request.
    const long ticks = sysconf(_SC_CLK_TCK);
    bool burned = wait_until(
        [&] {
          auto snapshot = snapshot_of(tag("cpu"), std::chrono::milliseconds(0));
          if (!snapshot) return false;
          for (const auto& p : processes_named(tag("cpu"))) {
            if (p.nspid.size() > snapshot->nspid.size() && p.state == 'S' &&
                p.cpu_ticks * 1000 / ticks >= 190)
              return true;
          }
          return false;
        },
        seconds(20));
    EXPECT_TRUE(burned) << "no idle sandbox finished its fork hook";
    auto result = cli({"invoke", "burner", "--json"});
    auto json = Json::parse(result.out);
    ASSERT_TRUE(json) << result.out << result.err;
    EXPECT_EQ((*json)["status"].as_string(), "OK") << result.out;
    if ((*json)["metrics"]["preforked"].as_bool()) metrics = (*json)["metrics"];
  }
  ASSERT_TRUE(metrics.is_object()) << "no invocation was served pre-forked";
  std::printf("[   info   ] metrics: %s\n", metrics.dump().c_str());
  ASSERT_TRUE(metrics.has("prerequest_cpu_us")) << metrics.dump();
  EXPECT_GT(metrics["prerequest_cpu_us"].as_int(), 100000) << metrics.dump();
}

}  // namespace
}  // namespace sprout::testing
