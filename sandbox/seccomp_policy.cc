#include "sandbox/seccomp_policy.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "base/log.h"
#include "base/unique_fd.h"

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
// An argument the kernel reads as a 32-bit int: compare the low 32 bits only,
// or junk in the high half of the register would slip past the rule.
#define DENY_ARG32(name, err, index, value, why) \
  { name, SeccompAction::kDenyErrno, err, index, 0xffffffffu, value, why }

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
    DENY_ARG32("ioctl", EPERM, 1, TIOCSTI, "TIOCSTI injects input into a terminal"),
    DENY_ARG32("ioctl", EPERM, 1, TIOCLINUX, "TIOCLINUX can inject console input"),
    // Address families that lead out of the sandbox or into kernel code with
    // a record. socketpair too: the family's socket is created before it
    // refuses.
    DENY_ARG32("socket", EAFNOSUPPORT, 0, AF_VSOCK,
               "AF_VSOCK reaches the hypervisor host, outside any network namespace"),
    DENY_ARG32("socketpair", EAFNOSUPPORT, 0, AF_VSOCK,
               "AF_VSOCK reaches the hypervisor host, outside any network namespace"),
    DENY_ARG32("socket", EAFNOSUPPORT, 0, AF_ALG,
               "AF_ALG (kernel crypto API) wrote into the page cache of any readable file "
               "(CVE-2026-31431), and the sandbox's /usr is the host's page cache"),
    DENY_ARG32("socketpair", EAFNOSUPPORT, 0, AF_ALG,
               "AF_ALG (kernel crypto API) wrote into the page cache of any readable file "
               "(CVE-2026-31431), and the sandbox's /usr is the host's page cache"),
    // Memory facilities a function does not need and exploits do.
    DENY("modify_ldt", EPERM, "x86 LDT entries: a classic kernel exploit primitive"),
    // ENOSYS: callers fall back as on a kernel built without secretmem.
    DENY("memfd_secret", ENOSYS,
         "secret memory is hidden from the kernel's own inspection and has been attack surface"),
    DENY("process_madvise", EPERM, "advises on another process's memory through a pidfd"),
    // NUMA placement is the host's business. ENOSYS, as on a kernel without
    // NUMA: libnuma's numa_available() then says no, and runtimes skip it.
    DENY("get_mempolicy", ENOSYS, "NUMA placement is the host's"),
    DENY("set_mempolicy", ENOSYS, "NUMA placement is the host's"),
    DENY("set_mempolicy_home_node", ENOSYS, "NUMA placement is the host's"),
    DENY("mbind", ENOSYS, "NUMA placement is the host's"),
    DENY("migrate_pages", ENOSYS, "moves another process's pages between NUMA nodes"),
    DENY("move_pages", ENOSYS, "moves another process's pages between NUMA nodes"),
    DENY("quotactl_fd", EPERM, "host-wide quotas"),
    // Obsolete interfaces, most already gone from the kernel: ENOSYS, which
    // is what a current kernel answers where they are compiled out.
    DENY("uselib", ENOSYS, "obsolete a.out library loader"),
    DENY("ustat", ENOSYS, "obsolete; file-system statistics of any device"),
    DENY("sysfs", ENOSYS, "obsolete file-system type query"),
    DENY("_sysctl", ENOSYS, "binary sysctl, removed from the kernel"),
    DENY("nfsservctl", ENOSYS, "kernel NFS server control, removed from the kernel"),
    DENY("create_module", ENOSYS, "old module interface, removed from the kernel"),
    DENY("get_kernel_syms", ENOSYS, "old module interface, removed from the kernel"),
    DENY("query_module", ENOSYS, "old module interface, removed from the kernel"),
    DENY("vm86", ENOSYS, "virtual 8086 mode (i386 only; skipped on x86_64)"),
    DENY("vm86old", ENOSYS, "virtual 8086 mode (i386 only; skipped on x86_64)"),
    // The runtime paths (/usr) are the host's own files: a watch on them
    // would report other tenants' and the host's file opens as they happen.
    DENY("inotify_init", ENOSYS, "watches on shared host files leak others' activity"),
    DENY("inotify_init1", ENOSYS, "watches on shared host files leak others' activity"),
    DENY("inotify_add_watch", ENOSYS, "watches on shared host files leak others' activity"),
    // A snapshot dies with sproutd through its parent-death signal, set before
    // its filter; function code must not clear or weaken it. SIGKILL stays
    // allowed: a sandbox's setup sets it.
    {.syscall = "prctl",
     .action = SeccompAction::kDenyErrno,
     .err = EPERM,
     .arg_index = 0,
     .arg_mask = 0xffffffffu,
     .arg_value = PR_SET_PDEATHSIG,
     .reason = "no opting out of dying with the parent (sproutd, for a snapshot)",
     .compare = SeccompCompare::kMaskedEqual,
     .arg2_index = 1,
     .arg2_mask = 0,
     .arg2_value = SIGKILL,
     .compare2 = SeccompCompare::kNotEqual},
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
#undef DENY_ARG32
#undef DENY_CLONE_FLAG

// ---- The snapshot tier ------------------------------------------------------
//
// Everything the sandbox policy denies is denied here too, with the same errno,
// except the calls below, which a snapshot must leave open because its
// sandboxes need them between clone and loading their own filter (which then
// denies them again). The snapshot itself cannot use what is left open: it has
// no capability in its user namespace, so mount, sethostname and
// unshare(CLONE_NEWCGROUP) fail there for lack of privilege.
// Residual, by construction: init code can clone a child with exactly the
// sandbox's namespaces, which holds every capability in its new user
// namespace, and there mount what a user namespace may mount (tmpfs, proc,
// but also overlay and the like: mount's file-system type is a pointer, out
// of BPF's reach), set a host name, or clone the same way again. That child is
// confined like a sandbox during its setup: its own empty namespaces, under
// this filter (no umount, no pivot_root, no new mount API, no setns, no
// unshare but of the cgroup namespace), and sproutd never takes it for a
// sandbox.
constexpr SeccompException kSnapshotExceptions[] = {
    {"clone",
     "allowed with no namespace flag or with exactly the sandbox's set "
     "(kSandboxCloneNamespaces); every other combination of the seven namespace flags is EPERM",
     "the snapshot clones each sandbox into its namespaces (raw clone(2); clone3 stays ENOSYS "
     "because BPF cannot read its flags)"},
    {"unshare", "allowed with exactly CLONE_NEWCGROUP; anything else is EPERM",
     "a sandbox enters its cgroup namespace itself, after clone, once sproutd placed it"},
    {"mount", "allowed (umount2, pivot_root, chroot and the new mount API stay denied)",
     "a sandbox makes / private and mounts its fresh /proc and /tmp before its own filter"},
    {"sethostname", "allowed (setdomainname stays denied)",
     "a sandbox sets its host name in its own UTS namespace before its own filter"},
};

// The namespace sets clone(2) may create in the snapshot tier: none (fork,
// threads) or exactly a sandbox's.
constexpr uint64_t kSnapshotCloneNamespaceSets[] = {0, kSandboxCloneNamespaces};

// libseccomp has no "(arg & mask) != value", so the clone exception is one
// masked-equality rule per refused combination of the seven namespace flags
// (126 of 128), generated in build_snapshot_policy().
constexpr const char* kSnapshotCloneReason =
    "namespaces other than none or exactly the sandbox's set";

// unshare's flags are compared whole (all 64 bits, as the kernel reads them):
// the only value allowed is CLONE_NEWCGROUP alone.
constexpr SeccompRule kSnapshotUnshareRule = {
    .syscall = "unshare",
    .action = SeccompAction::kDenyErrno,
    .err = EPERM,
    .arg_index = 0,
    .arg_mask = 0,
    .arg_value = CLONE_NEWCGROUP,
    .reason = "no new namespaces from the snapshot, but a sandbox's cgroup namespace",
    .compare = SeccompCompare::kNotEqual,
};

bool is_snapshot_exception(const char* syscall) {
  return std::any_of(std::begin(kSnapshotExceptions), std::end(kSnapshotExceptions),
                     [&](const SeccompException& e) { return strcmp(e.syscall, syscall) == 0; });
}

std::vector<SeccompRule> build_snapshot_policy() {
  std::vector<SeccompRule> rules;
  for (const SeccompRule& rule : kDefaultPolicy) {
    if (is_snapshot_exception(rule.syscall)) continue;
    SeccompRule copy = rule;
    if (rule.action == SeccompAction::kFatal) {
      // Fails here too, but leaves the verdict to a sandbox's own filter.
      copy.action = SeccompAction::kDenyBelowNotify;
      copy.err = 0;
    }
    rules.push_back(copy);
  }

  constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                          CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
  static_assert((kSandboxCloneNamespaces & ~kNamespaceCloneFlags) == 0);
  constexpr unsigned kCombinations = 1u << std::size(kNamespaceFlags);
  for (unsigned combination = 0; combination < kCombinations; ++combination) {
    uint64_t flags = 0;
    for (size_t bit = 0; bit < std::size(kNamespaceFlags); ++bit) {
      if (combination & (1u << bit)) flags |= kNamespaceFlags[bit];
    }
    if (std::find(std::begin(kSnapshotCloneNamespaceSets), std::end(kSnapshotCloneNamespaceSets),
                  flags) != std::end(kSnapshotCloneNamespaceSets)) {
      continue;
    }
    rules.push_back({"clone", SeccompAction::kDenyErrno, EPERM, 0, kNamespaceCloneFlags, flags,
                     kSnapshotCloneReason});
  }
  rules.push_back(kSnapshotUnshareRule);
  return rules;
}

[[noreturn]] void abort_uncompilable(const char* which, const Error& error) {
  // The policy is a constant of this binary: failing to compile it is a bug
  // or a broken libseccomp, never something to run without a filter.
  log_line(LogLevel::kError,
           std::string("cannot compile the ") + which + " seccomp policy: " + error.message());
  std::abort();
}

}  // namespace

std::span<const SeccompRule> default_seccomp_policy() { return kDefaultPolicy; }

std::span<const SeccompRule> snapshot_seccomp_policy() {
  static const std::vector<SeccompRule> rules = build_snapshot_policy();
  return rules;
}

std::span<const SeccompException> snapshot_seccomp_exceptions() { return kSnapshotExceptions; }

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
    uint32_t action = 0;
    switch (rule.action) {
      case SeccompAction::kDenyErrno:
        action = SCMP_ACT_ERRNO(rule.err);
        break;
      case SeccompAction::kFatal:
        if (mode == FatalMode::kNoFatalRules) {
          return plain_error("add seccomp rule",
                             std::string(rule.syscall) + ": a fatal rule in a policy without any");
        }
        action = fatal_action;
        break;
      case SeccompAction::kDenyBelowNotify:
        action = SCMP_ACT_TRACE(0);
        break;
    }
    auto condition_of = [](int arg_index, SeccompCompare compare, uint64_t mask,
                           uint64_t value) {
      const auto index = static_cast<unsigned>(arg_index);
      return compare == SeccompCompare::kNotEqual
                 ? SCMP_CMP(index, SCMP_CMP_NE, value)
                 : SCMP_CMP(index, SCMP_CMP_MASKED_EQ, mask, value);
    };
    if (rule.arg_index < 0) {
      rc = seccomp_rule_add(ctx, action, nr, 0);
    } else if (rule.arg2_index < 0) {
      rc = seccomp_rule_add(ctx, action, nr, 1,
                            condition_of(rule.arg_index, rule.compare, rule.arg_mask,
                                         rule.arg_value));
    } else {
      rc = seccomp_rule_add(
          ctx, action, nr, 2,
          condition_of(rule.arg_index, rule.compare, rule.arg_mask, rule.arg_value),
          condition_of(rule.arg2_index, rule.compare2, rule.arg2_mask, rule.arg2_value));
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
    if (!notify || !kill) abort_uncompilable("default", notify ? kill.error() : notify.error());
    notify_program = std::move(*notify);
    kill_program = std::move(*kill);
  });
  return mode == FatalMode::kNotifySpawner ? notify_program : kill_program;
}

const SeccompProgram& snapshot_seccomp_program() {
  static std::once_flag once;
  static SeccompProgram program;
  std::call_once(once, [] {
    auto compiled = compile_seccomp_policy(snapshot_seccomp_policy(), FatalMode::kNoFatalRules);
    if (!compiled) abort_uncompilable("snapshot tier", compiled.error());
    program = std::move(*compiled);
  });
  return program;
}

void precompile_seccomp_programs() {
  (void)default_seccomp_program(FatalMode::kNotifySpawner);  // both variants
  (void)snapshot_seccomp_program();
}

int load_seccomp_program(const SeccompProgram& program) {
  sock_fprog prog = program.fprog();
  // Only the sandbox's notify variant takes the chain's one listener.
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
