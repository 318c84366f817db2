#include "sandbox/seccomp_policy.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "sandbox/log.h"
#include "sandbox/unique_fd.h"

namespace sprout {
namespace {

constexpr int kNoArg = -1;
constexpr uint64_t kNamespaceCloneFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWCGROUP;

#define DENY(name, err, why) \
  { name, SeccompAction::kDenyErrno, err, kNoArg, 0, 0, why }
#define FATAL(name, why) \
  { name, SeccompAction::kFatal, 0, kNoArg, 0, 0, why }

// clone(2) with a namespace flag is refused one flag at a time, because
// libseccomp cannot express "any of these bits" in a single comparison.
#define DENY_CLONE_FLAG(flag) \
  { "clone", SeccompAction::kDenyErrno, EPERM, 0, flag, flag, "no new namespaces: " #flag }

constexpr SeccompRule kDefaultPolicy[] = {
    // The file-system layout is fixed before user code runs.
    DENY("mount", EPERM, "the mount layout is fixed at spawn"),
    DENY("umount2", EPERM, "the mount layout is fixed at spawn"),
    DENY("pivot_root", EPERM, "the root is fixed at spawn"),
    DENY("chroot", EPERM, "the root is fixed at spawn"),
    DENY("move_mount", EPERM, "new mount API: the layout is fixed at spawn"),
    DENY("open_tree", EPERM, "new mount API: the layout is fixed at spawn"),
    DENY("fsopen", EPERM, "new mount API: the layout is fixed at spawn"),
    DENY("fsmount", EPERM, "new mount API: the layout is fixed at spawn"),
    DENY("fsconfig", EPERM, "new mount API: the layout is fixed at spawn"),
    DENY("fspick", EPERM, "new mount API: the layout is fixed at spawn"),
    DENY("mount_setattr", EPERM, "new mount API: the layout is fixed at spawn"),
    // Namespaces: no new ones (kernel attack surface), no joining others.
    DENY("unshare", EPERM, "no new namespaces from inside the sandbox"),
    DENY("setns", EPERM, "no joining another namespace"),
    DENY_CLONE_FLAG(CLONE_NEWNS),
    DENY_CLONE_FLAG(CLONE_NEWUTS),
    DENY_CLONE_FLAG(CLONE_NEWIPC),
    DENY_CLONE_FLAG(CLONE_NEWUSER),
    DENY_CLONE_FLAG(CLONE_NEWPID),
    DENY_CLONE_FLAG(CLONE_NEWNET),
    DENY_CLONE_FLAG(CLONE_NEWCGROUP),
    // clone3 passes its flags in memory that BPF cannot read; ENOSYS makes
    // glibc fall back to clone(2), whose flags are checked above.
    DENY("clone3", ENOSYS, "flags unreadable by BPF; libc falls back to clone"),
    // Looking into or steering other processes.
    DENY("ptrace", EPERM, "no tracing, even inside the sandbox"),
    DENY("process_vm_readv", EPERM, "no reading another process's memory"),
    DENY("process_vm_writev", EPERM, "no writing another process's memory"),
    DENY("kcmp", EPERM, "reveals kernel object identity across processes"),
    DENY("pidfd_getfd", EPERM, "no stealing descriptors"),
    // Kernel facilities with a long record of exploitable bugs.
    DENY("bpf", EPERM, "eBPF is kernel attack surface"),
    DENY("perf_event_open", EPERM, "perf is kernel attack surface and a side channel"),
    DENY("userfaultfd", EPERM, "used to widen kernel race windows in exploits"),
    DENY("keyctl", EPERM, "the kernel keyring is not namespaced"),
    DENY("add_key", EPERM, "the kernel keyring is not namespaced"),
    DENY("request_key", EPERM, "the kernel keyring is not namespaced"),
    DENY("io_uring_setup", EPERM, "io_uring bypasses seccomp for its operations"),
    DENY("io_uring_enter", EPERM, "io_uring bypasses seccomp for its operations"),
    DENY("io_uring_register", EPERM, "io_uring bypasses seccomp for its operations"),
    DENY("fanotify_init", EPERM, "watching other processes' file access"),
    DENY("name_to_handle_at", EPERM, "file handles let a process leave its mounts"),
    // Host-wide state that no function may touch.
    DENY("acct", EPERM, "host-wide process accounting"),
    DENY("quotactl", EPERM, "host-wide quotas"),
    DENY("syslog", EPERM, "the kernel log leaks host information"),
    DENY("settimeofday", EPERM, "the clock is host-wide"),
    DENY("clock_settime", EPERM, "the clock is host-wide"),
    DENY("clock_adjtime", EPERM, "the clock is host-wide"),
    DENY("adjtimex", EPERM, "the clock is host-wide"),
    DENY("sethostname", EPERM, "the host name is fixed at spawn"),
    DENY("setdomainname", EPERM, "the domain name is fixed at spawn"),
    DENY("vhangup", EPERM, "terminals are not the sandbox's"),
    DENY("personality", EPERM, "personality flags weaken ASLR"),
    {"ioctl", SeccompAction::kDenyErrno, EPERM, 1, 0xffffffffu, TIOCSTI,
     "TIOCSTI injects input into a terminal"},
    {"ioctl", SeccompAction::kDenyErrno, EPERM, 1, 0xffffffffu, TIOCLINUX,
     "TIOCLINUX can inject console input"},
    // Only an attacker makes these: stop the sandbox.
    FATAL("init_module", "loading kernel code"),
    FATAL("finit_module", "loading kernel code"),
    FATAL("delete_module", "unloading kernel code"),
    FATAL("kexec_load", "replacing the kernel"),
    FATAL("kexec_file_load", "replacing the kernel"),
    FATAL("reboot", "rebooting the host"),
    FATAL("iopl", "raw port I/O"),
    FATAL("ioperm", "raw port I/O"),
    FATAL("open_by_handle_at", "the 'shocker' container escape"),
    FATAL("swapon", "host-wide swap"),
    FATAL("swapoff", "host-wide swap"),
    FATAL("lookup_dcookie", "kernel object lookup, profiling only"),
};

#undef DENY
#undef FATAL
#undef DENY_CLONE_FLAG

}  // namespace

std::span<const SeccompRule> default_seccomp_policy() { return kDefaultPolicy; }

Result<SeccompProgram> compile_seccomp_policy(std::span<const SeccompRule> rules, FatalMode mode) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return plain_error("compile seccomp policy", "seccomp_init failed");
  struct CtxOwner {
    scmp_filter_ctx ctx;
    ~CtxOwner() { seccomp_release(ctx); }
  } owner{ctx};

  // A call through a foreign ABI (int 0x80, x32) would dodge every rule.
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return os_error("compile seccomp policy", "SCMP_FLTATR_ACT_BADARCH", -rc);
  // The program is loaded by us with seccomp(2), not by libseccomp, so the
  // no_new_privs bit is ours to set too.
  rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return os_error("compile seccomp policy", "SCMP_FLTATR_CTL_NNP", -rc);
  // A binary tree of syscall numbers instead of a linear scan: fewer
  // instructions per call, and a cheaper load (the kernel evaluates the
  // program once per syscall number to build its action cache).
  rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (rc < 0) return os_error("compile seccomp policy", "SCMP_FLTATR_CTL_OPTIMIZE", -rc);

  const uint32_t fatal_action =
      mode == FatalMode::kNotifySpawner ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS;
  for (const SeccompRule& rule : rules) {
    int nr = seccomp_syscall_resolve_name(rule.syscall);
    if (nr == __NR_SCMP_ERROR) {
      // Not a syscall on this architecture (e.g. a 32-bit-only call).
      continue;
    }
    uint32_t action =
        rule.action == SeccompAction::kFatal ? fatal_action : SCMP_ACT_ERRNO(rule.err);
    if (rule.arg_index < 0) {
      rc = seccomp_rule_add(ctx, action, nr, 0);
    } else {
      rc = seccomp_rule_add(ctx, action, nr, 1,
                            SCMP_CMP(static_cast<unsigned>(rule.arg_index), SCMP_CMP_MASKED_EQ,
                                     rule.arg_mask, rule.arg_value));
    }
    if (rc < 0) return os_error("add seccomp rule", rule.syscall, -rc);
  }

  // libseccomp 2.5 exports BPF only to a descriptor: use a memfd and read it back.
  UniqueFd memfd(memfd_create("sprout-seccomp", MFD_CLOEXEC));
  if (!memfd) return os_error("memfd_create", "seccomp export");
  rc = seccomp_export_bpf(ctx, memfd.get());
  if (rc < 0) return os_error("export seccomp BPF", "", -rc);
  off_t size = lseek(memfd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) {
    return plain_error("export seccomp BPF", "odd program size " + std::to_string(size));
  }
  SeccompProgram program{std::vector<sock_filter>(size / sizeof(sock_filter)), mode};
  if (pread(memfd.get(), program.instructions.data(), size, 0) != size) {
    return os_error("read seccomp BPF", "memfd");
  }
  return program;
}

const SeccompProgram& default_seccomp_program(FatalMode mode) {
  static std::once_flag once;
  static SeccompProgram notify_program, kill_program;
  std::call_once(once, [] {
    auto notify = compile_seccomp_policy(default_seccomp_policy(), FatalMode::kNotifySpawner);
    auto kill = compile_seccomp_policy(default_seccomp_policy(), FatalMode::kKillProcess);
    if (!notify || !kill) {
      // The policy is a constant of this binary: failing to compile it is a
      // bug or a broken libseccomp, never something to run without a filter.
      log_line(LogLevel::kError, "cannot compile the default seccomp policy: " +
                                     (notify ? kill.error() : notify.error()).message());
      std::abort();
    }
    notify_program = std::move(*notify);
    kill_program = std::move(*kill);
  });
  return mode == FatalMode::kNotifySpawner ? notify_program : kill_program;
}

int load_seccomp_program(const SeccompProgram& program) {
  sock_fprog prog = program.fprog();
  unsigned flags =
      program.fatal_mode == FatalMode::kNotifySpawner ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  return static_cast<int>(rc);
}

std::string syscall_name(int nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
  if (!name) return "#" + std::to_string(nr);
  std::string out = name;
  free(name);
  return out;
}

}  // namespace sprout
