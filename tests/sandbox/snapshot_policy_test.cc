// The snapshot tier's seccomp filter, loaded for real in a forked child, as a
// function snapshot loads it before its init runs; then the sandbox filter
// stacked on top, as a sandbox forked by that snapshot stacks it.
//
// The children run as root with no_new_privs: every call checked below gets
// another answer for root without the filter, mostly success (the control
// test runs the same calls unfiltered to show it), so a refusal with the
// filter's errno is the filter's doing. Calls the filter leaves open for sandbox setup (mount,
// sethostname, unshare of the cgroup namespace) are tried inside a child cloned with the sandbox's
// namespaces, where they succeed; the mount API calls that stay closed are tried there too, where
// only the filter can refuse them.
//
// A child reports one line per attempt ("name ok 0", "name err EPERM") on a
// pipe; the test asserts on the lines.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "sandbox/seccomp_policy.h"

namespace sprout::testing {
namespace {

// Child side: one line per attempt, written in one write(2) (atomic on a pipe).
class Recorder {
 public:
  explicit Recorder(int fd) : fd_(fd) {}

  void record(const char* name, long rc) {
    const int err = errno;
    char line[256];
    int n = rc < 0 ? snprintf(line, sizeof line, "%s err %s\n", name, strerrorname_np(err))
                   : snprintf(line, sizeof line, "%s ok %ld\n", name, rc);
    (void)!write(fd_, line, n);
  }
  void note(const char* name, const std::string& text) {
    std::string line = std::string(name) + " " + text + "\n";
    (void)!write(fd_, line.data(), line.size());
  }

 private:
  int fd_;
};

struct ChildRun {
  std::map<std::string, std::string> lines;  // name -> "ok 0", "err EPERM", ...
  int status = -1;
  std::string text;  // everything, for failure messages
};

// Forks, runs `body` in the child (which exits 0 after it), collects the lines.
template <typename Body>
ChildRun run_child(Body body) {
  ChildRun run;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return run;
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(20);  // nothing here may hang a test run
    Recorder recorder(pipe_fds[1]);
    body(recorder);
    _exit(0);
  }
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    return run;
  }
  char buffer[4096];
  for (;;) {
    pollfd readable{pipe_fds[0], POLLIN, 0};
    if (poll(&readable, 1, 30000) <= 0) break;  // a stuck child: the status tells
    ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    run.text.append(buffer, n);
  }
  close(pipe_fds[0]);
  kill(pid, SIGKILL);  // no-op once it exited
  waitpid(pid, &run.status, 0);
  size_t start = 0;
  while (start < run.text.size()) {
    size_t end = run.text.find('\n', start);
    if (end == std::string::npos) end = run.text.size();
    std::string line = run.text.substr(start, end - start);
    size_t space = line.find(' ');
    if (space != std::string::npos) run.lines[line.substr(0, space)] = line.substr(space + 1);
    start = end + 1;
  }
  return run;
}

std::string result_of(const ChildRun& run, const std::string& name) {
  auto it = run.lines.find(name);
  return it == run.lines.end() ? "(not reported)" : it->second;
}

long raw_clone(uint64_t flags) { return syscall(SYS_clone, flags, nullptr, nullptr, nullptr, 0); }

void load_snapshot_tier(Recorder& recorder) {
  recorder.record("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  recorder.record("load", load_seccomp_program(snapshot_seccomp_program()));
}

// Runs inside a child cloned with exactly the sandbox's namespaces: it holds
// every capability in its new user namespace, as a sandbox does during setup.
void attempt_sandbox_setup_calls(Recorder& recorder) {
  recorder.record("inner-make-root-private",
                  mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr));
  recorder.record("inner-mount-tmpfs",
                  mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k"));
  recorder.record("inner-sethostname", sethostname("sprout-snapshot-test", 20));
  recorder.record("inner-unshare-cgroup", unshare(CLONE_NEWCGROUP));
  // Still closed, although the capabilities are there.
  recorder.record("inner-unshare-mount", unshare(CLONE_NEWNS));
  recorder.record("inner-umount2", umount2("/tmp", MNT_DETACH));
  recorder.record("inner-pivot_root", syscall(SYS_pivot_root, ".", "."));
  recorder.record("inner-chroot", chroot("/"));
  recorder.record("inner-fsopen", syscall(SYS_fsopen, "tmpfs", 0));
  recorder.record("inner-setdomainname", setdomainname("sprout", 6));
  long pid = raw_clone(CLONE_NEWNET | SIGCHLD);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
  recorder.record("inner-clone-newnet", pid);
}

// Every call the snapshot tier refuses, attempted once. `filtered`: whether
// the snapshot tier is loaded (the control run leaves out PTRACE_TRACEME,
// which would make the test process a tracer).
void attempt_refused_calls(Recorder& recorder, bool filtered) {
  io_uring_params params{};
  recorder.record("io_uring_setup", syscall(SYS_io_uring_setup, 1, &params));
  recorder.record("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
  recorder.record("add_key",
                  syscall(SYS_add_key, "user", "sprout-test", "x", 1, KEY_SPEC_PROCESS_KEYRING));
  recorder.record("keyctl",
                  syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1));
  if (filtered) recorder.record("ptrace", ptrace(PTRACE_TRACEME, 0, nullptr, nullptr));
  perf_event_attr perf{};
  perf.size = sizeof perf;
  perf.type = PERF_TYPE_SOFTWARE;
  perf.config = PERF_COUNT_SW_CPU_CLOCK;
  perf.exclude_kernel = 1;
  recorder.record("perf_event_open", syscall(SYS_perf_event_open, &perf, 0, -1, -1, 0));
  bpf_attr map{};
  map.map_type = BPF_MAP_TYPE_ARRAY;
  map.key_size = 4;
  map.value_size = 4;
  map.max_entries = 1;
  recorder.record("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &map, sizeof map));
  // unshare in a throwaway child: unfiltered, it would change this process.
  for (auto [name, flags] :
       {std::pair{"unshare-mount", CLONE_NEWNS}, std::pair{"unshare-user", CLONE_NEWUSER}}) {
    pid_t child = fork();
    if (child == 0) {
      recorder.record(name, unshare(flags));
      _exit(0);
    }
    waitpid(child, nullptr, 0);
  }
  int own_net = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  recorder.record("setns", setns(own_net, CLONE_NEWNET));
  close(own_net);
  recorder.record("socket-vsock", socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  char ldt[64];
  recorder.record("modify_ldt", syscall(SYS_modify_ldt, 0, ldt, sizeof ldt));
  recorder.record("memfd_secret", syscall(SYS_memfd_secret, O_CLOEXEC));
  // Fatal in the sandbox policy. Arguments that make each call fail
  // harmlessly unfiltered (EFAULT, EBADF): nothing can happen either way.
  recorder.record("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, nullptr, 0));
  recorder.record("finit_module", syscall(SYS_finit_module, -1, "", 0));
  long pid = raw_clone(CLONE_NEWNET | SIGCHLD);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
  recorder.record("clone-newnet", pid);
}

// What the snapshot tier answers, call by call.
const std::pair<const char*, const char*> kRefused[] = {
    {"io_uring_setup", "err EPERM"},
    {"userfaultfd", "err EPERM"},
    {"add_key", "err EPERM"},
    {"keyctl", "err EPERM"},
    {"perf_event_open", "err EPERM"},
    {"bpf", "err EPERM"},
    {"unshare-mount", "err EPERM"},
    {"unshare-user", "err EPERM"},
    {"setns", "err EPERM"},
    {"socket-vsock", "err EAFNOSUPPORT"},
    {"modify_ldt", "err EPERM"},
    {"memfd_secret", "err ENOSYS"},
    // SECCOMP_RET_TRACE with no tracer: the call is skipped with ENOSYS.
    {"open_by_handle_at", "err ENOSYS"},
    {"clone-newnet", "err EPERM"},
};

class SnapshotPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "runs as root, so that only the filter can refuse";
    precompile_seccomp_programs();  // as the zygote does: children only load
  }
};

TEST_F(SnapshotPolicyTest, RefusesWhatTheSandboxDeniesAndLetsSandboxesBeCreated) {
  ChildRun run = run_child([](Recorder& recorder) {
    load_snapshot_tier(recorder);
    attempt_refused_calls(recorder, true);
    recorder.record("getpid", getpid());
    pid_t forked = fork();
    if (forked == 0) _exit(0);
    int status = -1;
    if (forked > 0) waitpid(forked, &status, 0);
    recorder.record("fork", forked);
    recorder.note("fork-status", std::to_string(status));

    long sandbox = raw_clone(kSandboxCloneNamespaces | SIGCHLD);
    if (sandbox == 0) {
      attempt_sandbox_setup_calls(recorder);
      _exit(0);
    }
    status = -1;
    if (sandbox > 0) waitpid(static_cast<pid_t>(sandbox), &status, 0);
    recorder.record("clone-sandbox-set", sandbox);
    recorder.note("clone-sandbox-set-status", std::to_string(status));
  });
  ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.text;
  EXPECT_EQ(result_of(run, "load"), "ok 0") << "loaded without a listener";

  for (const auto& [name, expected] : kRefused) {
    EXPECT_EQ(result_of(run, name), expected) << name;
  }
  EXPECT_EQ(result_of(run, "ptrace"), "err EPERM");
  // Also ENOSYS, but so it is unfiltered on kernels built without modules
  // (the build machines'): open_by_handle_at above is the proof.
  EXPECT_EQ(result_of(run, "finit_module"), "err ENOSYS");

  // Neighbours: ordinary calls, fork, and the clone that creates a sandbox.
  EXPECT_EQ(result_of(run, "getpid").rfind("ok", 0), 0u) << run.text;
  EXPECT_EQ(result_of(run, "fork").rfind("ok", 0), 0u) << run.text;
  EXPECT_EQ(result_of(run, "fork-status"), "0");
  EXPECT_EQ(result_of(run, "clone-sandbox-set").rfind("ok", 0), 0u) << run.text;
  EXPECT_EQ(result_of(run, "clone-sandbox-set-status"), "0") << "the clone's child exits 0";

  // Inside that child: what sandbox setup needs works...
  EXPECT_EQ(result_of(run, "inner-make-root-private"), "ok 0");
  EXPECT_EQ(result_of(run, "inner-mount-tmpfs"), "ok 0");
  EXPECT_EQ(result_of(run, "inner-sethostname"), "ok 0");
  EXPECT_EQ(result_of(run, "inner-unshare-cgroup"), "ok 0") << "not refused by the filter";
  // ...and the rest stays closed, capabilities or not.
  for (const char* name :
       {"inner-unshare-mount", "inner-umount2", "inner-pivot_root", "inner-chroot", "inner-fsopen",
        "inner-setdomainname", "inner-clone-newnet"}) {
    EXPECT_EQ(result_of(run, name), "err EPERM") << name;
  }
}

// The same calls without the filter, in the same conditions: none of them
// gets the filter's answer, so every refusal above is the filter's.
TEST_F(SnapshotPolicyTest, ControlWithoutTheFilterTheSameCallsAreNotRefused) {
  ChildRun run = run_child([](Recorder& recorder) {
    recorder.record("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    attempt_refused_calls(recorder, false);
    long sandbox = raw_clone(kSandboxCloneNamespaces | SIGCHLD);
    if (sandbox == 0) {
      attempt_sandbox_setup_calls(recorder);
      _exit(0);
    }
    if (sandbox > 0) waitpid(static_cast<pid_t>(sandbox), nullptr, 0);
  });
  ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.text;
  for (const auto& [name, filtered] : kRefused) {
    EXPECT_NE(result_of(run, name), filtered) << name << ": the filter's answer proves nothing";
    EXPECT_NE(result_of(run, name), "(not reported)") << name;
  }
  for (const char* name :
       {"inner-unshare-mount", "inner-umount2", "inner-pivot_root", "inner-chroot", "inner-fsopen",
        "inner-setdomainname", "inner-clone-newnet"}) {
    EXPECT_NE(result_of(run, name), "err EPERM") << name;
    EXPECT_NE(result_of(run, name), "(not reported)") << name;
  }
}

// A sandbox forked by a snapshot stacks its own filter, with a listener, on
// the snapshot tier's. The snapshot tier took no listener, so the sandbox can
// have one; the sandbox's verdicts stand; and a fatal call reaches the
// listener, naming the syscall, instead of failing quietly below it.
TEST_F(SnapshotPolicyTest, StackedSandboxFilterKeepsItsListenerAndItsVerdicts) {
  ChildRun run = run_child([](Recorder& recorder) {
    load_snapshot_tier(recorder);
    const int listener = load_seccomp_program(default_seccomp_program(FatalMode::kNotifySpawner));
    recorder.record("listener", listener < 0 ? -1 : 1);
    if (listener < 0) return;

    pid_t sandbox = fork();
    if (sandbox == 0) {
      // Open in the snapshot tier, denied by the sandbox's filter: EPERM,
      // where root unfiltered would get ENOENT, EINVAL and success.
      recorder.record("stacked-mount",
                      mount(nullptr, "/sprout-nonexistent", nullptr, MS_PRIVATE, nullptr));
      char too_long[100];  // more than a host name may hold: never applied
      memset(too_long, 'x', sizeof too_long);
      recorder.record("stacked-sethostname", sethostname(too_long, sizeof too_long));
      long cloned = raw_clone(kSandboxCloneNamespaces | SIGCHLD);
      if (cloned == 0) _exit(0);
      recorder.record("stacked-clone-sandbox-set", cloned);
      recorder.record("stacked-getpid", getpid());
      // Fatal in the sandbox: blocks until the listener's holder acts.
      long rc = syscall(SYS_finit_module, -1, "", 0);
      recorder.record("stacked-finit_module-returned", rc);
      _exit(3);
    }
    pollfd pending{listener, POLLIN, 0};
    recorder.record("poll", poll(&pending, 1, 5000));
    seccomp_notif_sizes sizes{};
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
      sizes.seccomp_notif = sizeof(seccomp_notif);
    std::vector<char> buffer(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)), 0);
    auto* notification = reinterpret_cast<seccomp_notif*>(buffer.data());
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, notification) == 0) {
      recorder.note("notified-syscall", syscall_name(notification->data.nr));
      recorder.note("notified-pid", notification->pid == static_cast<uint32_t>(sandbox)
                                        ? "the sandbox"
                                        : std::to_string(notification->pid));
    } else {
      recorder.record("notif-recv", -1);
    }
    // As sproutd does: the call never runs; the sandbox is killed.
    kill(sandbox, SIGKILL);
    int status = -1;
    waitpid(sandbox, &status, 0);
    recorder.note("sandbox-end", WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status))
                                                     : "exit " + std::to_string(status));
  });
  ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.text;
  EXPECT_EQ(result_of(run, "load"), "ok 0");
  EXPECT_EQ(result_of(run, "listener"), "ok 1") << "the sandbox's filter got its listener";
  EXPECT_EQ(result_of(run, "stacked-mount"), "err EPERM");
  EXPECT_EQ(result_of(run, "stacked-sethostname"), "err EPERM");
  EXPECT_EQ(result_of(run, "stacked-clone-sandbox-set"), "err EPERM");
  EXPECT_EQ(result_of(run, "stacked-getpid").rfind("ok", 0), 0u) << run.text;
  EXPECT_EQ(result_of(run, "poll"), "ok 1");
  EXPECT_EQ(result_of(run, "notified-syscall"), "finit_module") << run.text;
  EXPECT_EQ(result_of(run, "notified-pid"), "the sandbox");
  EXPECT_EQ(result_of(run, "stacked-finit_module-returned"), "(not reported)")
      << "the fatal call must never return";
  EXPECT_EQ(result_of(run, "sandbox-end"), "KILL");
}

// The kernel allows one listener per filter chain. The snapshot tier's
// program must not take it: loaded under a filter that holds one, it still
// loads; a second listener is refused (EBUSY), which is why it matters.
TEST_F(SnapshotPolicyTest, SnapshotProgramNeverTakesTheListener) {
  ChildRun run = run_child([](Recorder& recorder) {
    recorder.record("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    const int listener = load_seccomp_program(default_seccomp_program(FatalMode::kNotifySpawner));
    recorder.record("first-listener", listener < 0 ? -1 : 1);
    recorder.record("snapshot-program", load_seccomp_program(snapshot_seccomp_program()));
    recorder.record("second-listener",
                    load_seccomp_program(default_seccomp_program(FatalMode::kNotifySpawner)));
  });
  ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.text;
  EXPECT_EQ(result_of(run, "first-listener"), "ok 1");
  EXPECT_EQ(result_of(run, "snapshot-program"), "ok 0");
  EXPECT_EQ(result_of(run, "second-listener"), "err EBUSY");
}

}  // namespace
}  // namespace sprout::testing
