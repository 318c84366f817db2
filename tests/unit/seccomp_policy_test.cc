// The seccomp policies as data, and their compiled forms against stored golden
// copies: a change to a policy or to libseccomp's output shows up as a diff to
// review, never silently. Regenerate with SPROUT_UPDATE_GOLDEN=1.
//
// The compiled programs are also run, here, by a small interpreter of the
// classic BPF that libseccomp emits, on chosen syscalls and arguments: what a
// program answers, and what two stacked programs answer together (the kernel's
// precedence), is checked without loading anything.
#include "sandbox/seccomp_policy.h"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace sprout {
namespace {

std::string render(const SeccompProgram& program) {
  std::string text;
  char line[64];
  for (const auto& insn : program.instructions) {
    snprintf(line, sizeof line, "%04x %02x %02x %08x\n", insn.code, insn.jt, insn.jf, insn.k);
    text += line;
  }
  return text;
}

void expect_matches_golden(const SeccompProgram& program, const std::string& file) {
  const std::string golden_path = SPROUT_GOLDEN_DIR "/" + file;
  const std::string actual = render(program);
  if (getenv("SPROUT_UPDATE_GOLDEN")) {
    std::ofstream(golden_path) << actual;
    GTEST_SKIP() << "golden copy rewritten: " << golden_path;
  }
  std::ifstream in(golden_path);
  ASSERT_TRUE(in.good()) << "missing " << golden_path;
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str())
      << "the compiled policy changed; review, then SPROUT_UPDATE_GOLDEN=1";
}

// ---- A classic BPF interpreter, for the instructions libseccomp emits ------

constexpr uint32_t kBadProgram = 0xdeadbeef;

struct Call {
  long nr;
  uint64_t args[6] = {};
  uint32_t arch = AUDIT_ARCH_X86_64;
};

uint32_t run(const SeccompProgram& program, const Call& call) {
  seccomp_data data{};
  data.nr = static_cast<int>(call.nr);
  data.arch = call.arch;
  memcpy(data.args, call.args, sizeof data.args);
  uint32_t a = 0, x = 0, scratch[BPF_MEMWORDS] = {};
  const auto& code = program.instructions;
  for (size_t pc = 0; pc < code.size(); ++pc) {
    const sock_filter& insn = code[pc];
    switch (insn.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (insn.k % 4 != 0 || insn.k + 4 > sizeof data) return kBadProgram;
        memcpy(&a, reinterpret_cast<const char*>(&data) + insn.k, 4);
        break;
      case BPF_LD | BPF_MEM:
        a = scratch[insn.k % BPF_MEMWORDS];
        break;
      case BPF_LDX | BPF_MEM:
        x = scratch[insn.k % BPF_MEMWORDS];
        break;
      case BPF_ST:
        scratch[insn.k % BPF_MEMWORDS] = a;
        break;
      case BPF_STX:
        scratch[insn.k % BPF_MEMWORDS] = x;
        break;
      case BPF_MISC | BPF_TAX:
        x = a;
        break;
      case BPF_MISC | BPF_TXA:
        a = x;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        a &= insn.k;
        break;
      case BPF_ALU | BPF_OR | BPF_K:
        a |= insn.k;
        break;
      case BPF_JMP | BPF_JA:
        pc += insn.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == insn.k ? insn.jt : insn.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += a > insn.k ? insn.jt : insn.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= insn.k ? insn.jt : insn.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & insn.k) ? insn.jt : insn.jf;
        break;
      case BPF_RET | BPF_K:
        return insn.k;
      case BPF_RET | BPF_A:
        return a;
      default:
        ADD_FAILURE() << "instruction the interpreter does not know: " << std::hex << insn.code;
        return kBadProgram;
    }
  }
  ADD_FAILURE() << "the program ran off its end";
  return kBadProgram;
}

// What the kernel does with two stacked filters: the verdict whose action
// ranks first wins (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF >
// TRACE > LOG > ALLOW: the lower action value, read as a signed int); on a tie
// the most recently installed filter's verdict (and data) wins.
uint32_t stacked(uint32_t older, uint32_t newer) {
  auto rank = [](uint32_t verdict) {
    return static_cast<int32_t>(verdict & SECCOMP_RET_ACTION_FULL);
  };
  return rank(older) < rank(newer) ? older : newer;
}

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kTrace = SECCOMP_RET_TRACE;
constexpr uint32_t kNotify = SECCOMP_RET_USER_NOTIF;
constexpr uint32_t kKillProcess = SECCOMP_RET_KILL_PROCESS;
uint32_t errno_verdict(int err) { return SECCOMP_RET_ERRNO | static_cast<uint32_t>(err); }

int nr_of(const char* name) { return seccomp_syscall_resolve_name(name); }

// A call that matches `rule`'s condition.
Call call_matching(const SeccompRule& rule) {
  Call call{nr_of(rule.syscall)};
  if (rule.arg_index >= 0) {
    call.args[rule.arg_index] =
        rule.compare == SeccompCompare::kNotEqual ? ~rule.arg_value : rule.arg_value;
  }
  if (rule.arg2_index >= 0) {
    call.args[rule.arg2_index] =
        rule.compare2 == SeccompCompare::kNotEqual ? ~rule.arg2_value : rule.arg2_value;
  }
  return call;
}

bool same_rule(const SeccompRule& a, const SeccompRule& b) {
  return strcmp(a.syscall, b.syscall) == 0 && a.action == b.action && a.err == b.err &&
         a.arg_index == b.arg_index && a.compare == b.compare &&
         (a.arg_index < 0 || (a.arg_mask == b.arg_mask && a.arg_value == b.arg_value)) &&
         a.arg2_index == b.arg2_index && a.compare2 == b.compare2 &&
         (a.arg2_index < 0 || (a.arg2_mask == b.arg2_mask && a.arg2_value == b.arg2_value));
}

bool is_exception(const char* syscall) {
  for (const auto& exception : snapshot_seccomp_exceptions()) {
    if (strcmp(exception.syscall, syscall) == 0) return true;
  }
  return false;
}

// Calls that ordinary runtimes (glibc, CPython, a native handler) make, with
// the arguments they make them with: every program must let them through.
std::vector<Call> ordinary_calls() {
  constexpr uint64_t kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                    CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                                    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  std::vector<Call> calls;
  for (const char* name : {"read",
                           "write",
                           "openat",
                           "close",
                           "mmap",
                           "mprotect",
                           "munmap",
                           "mremap",
                           "madvise",
                           "brk",
                           "futex",
                           "rt_sigaction",
                           "rt_sigprocmask",
                           "epoll_create1",
                           "epoll_wait",
                           "getrandom",
                           "prctl",
                           "arch_prctl",
                           "set_robust_list",
                           "rseq",
                           "sched_getaffinity",
                           "execve",
                           "wait4",
                           "pipe2",
                           "newfstatat",
                           "statx",
                           "getdents64",
                           "clock_gettime",
                           "clock_nanosleep",
                           "exit_group",
                           "sysinfo",
                           "uname",
                           "memfd_create",
                           "connect",
                           "sendmsg",
                           "recvmsg",
                           "eventfd2",
                           "timerfd_create",
                           "prlimit64",
                           "getpid",
                           "seccomp"}) {
    calls.push_back(Call{nr_of(name)});
  }
  calls.push_back(Call{SYS_clone, {kThreadFlags}});  // pthread_create
  calls.push_back(Call{SYS_clone, {CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD}});  // fork
  for (uint64_t family : {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK}) {
    calls.push_back(Call{SYS_socket, {family, SOCK_STREAM | SOCK_CLOEXEC, 0}});
  }
  calls.push_back(Call{SYS_socketpair, {AF_UNIX, SOCK_STREAM, 0}});
  calls.push_back(Call{SYS_ioctl, {1, 0x5401 /* TCGETS */}});
  return calls;
}

// ---- The policies as data ---------------------------------------------------

void expect_well_formed(std::span<const SeccompRule> policy, bool fatal_allowed) {
  std::set<std::string> seen;
  for (const auto& rule : policy) {
    EXPECT_NE(rule.reason, nullptr) << rule.syscall;
    if (rule.reason) {
      EXPECT_NE(std::string(rule.reason), "") << rule.syscall;
    }
    EXPECT_NE(seccomp_syscall_resolve_name(rule.syscall), __NR_SCMP_ERROR) << rule.syscall;
    if (rule.action == SeccompAction::kDenyErrno) {
      EXPECT_GT(rule.err, 0) << rule.syscall;
    }
    if (!fatal_allowed) {
      EXPECT_NE(rule.action, SeccompAction::kFatal) << rule.syscall;
    }
    if (rule.arg_index < 0) {
      EXPECT_TRUE(seen.insert(rule.syscall).second) << "duplicate rule " << rule.syscall;
    }
  }
}

TEST(SeccompPolicy, EveryRuleHasAReasonAndAKnownSyscall) {
  expect_well_formed(default_seccomp_policy(), true);
}

TEST(SeccompPolicy, AttackerOnlyCallsAreFatal) {
  std::set<std::string> fatal;
  for (const auto& rule : default_seccomp_policy()) {
    if (rule.action == SeccompAction::kFatal) fatal.insert(rule.syscall);
  }
  for (const char* call : {"init_module", "finit_module", "kexec_load", "open_by_handle_at"}) {
    EXPECT_TRUE(fatal.count(call)) << call;
  }
}

TEST(SeccompPolicy, CompiledProgramMatchesGoldenCopy) {
  const auto& program = default_seccomp_program(FatalMode::kNotifySpawner);
  ASSERT_GT(program.instructions.size(), 20u);
  expect_matches_golden(program, "default_policy.bpf.txt");
}

// Return instructions (BPF_RET | BPF_K) carrying `action`.
size_t returns_of(const SeccompProgram& program, uint32_t action) {
  size_t count = 0;
  for (const auto& insn : program.instructions) count += insn.code == 0x06 && insn.k == action;
  return count;
}

TEST(SeccompPolicy, FatalRulesNotifyOrKillByVariant) {
  const auto& notify = default_seccomp_program(FatalMode::kNotifySpawner);
  const auto& kill = default_seccomp_program(FatalMode::kKillProcess);
  EXPECT_GE(returns_of(notify, SECCOMP_RET_USER_NOTIF), 1u);
  EXPECT_EQ(returns_of(kill, SECCOMP_RET_USER_NOTIF), 0u);
  // Both kill a foreign architecture; only the kill variant kills on a rule.
  EXPECT_GE(returns_of(kill, SECCOMP_RET_KILL_PROCESS),
            returns_of(notify, SECCOMP_RET_KILL_PROCESS));
  EXPECT_GE(returns_of(notify, SECCOMP_RET_KILL_PROCESS), 1u);
}

TEST(SeccompPolicy, SyscallNamesResolve) {
  EXPECT_EQ(syscall_name(seccomp_syscall_resolve_name("finit_module")), "finit_module");
  EXPECT_EQ(syscall_name(99999), "#99999");
}

// ---- The sandbox policy, run ------------------------------------------------

TEST(SeccompPolicy, InterpreterAgreesWithTheRulesOfTheDefaultPolicy) {
  const auto& notify = default_seccomp_program(FatalMode::kNotifySpawner);
  const auto& kill = default_seccomp_program(FatalMode::kKillProcess);
  for (const auto& rule : default_seccomp_policy()) {
    if (nr_of(rule.syscall) < 0) continue;  // not on this architecture
    const Call call = call_matching(rule);
    if (rule.action == SeccompAction::kFatal) {
      EXPECT_EQ(run(notify, call), kNotify) << rule.syscall;
      EXPECT_EQ(run(kill, call), kKillProcess) << rule.syscall;
    } else {
      EXPECT_EQ(run(notify, call), errno_verdict(rule.err)) << rule.syscall;
      EXPECT_EQ(run(kill, call), errno_verdict(rule.err)) << rule.syscall;
    }
  }
}

TEST(SeccompPolicy, SandboxRefusesVsockAlgLdtAndSecretMemory) {
  const auto& program = default_seccomp_program(FatalMode::kNotifySpawner);
  EXPECT_EQ(run(program, {SYS_socket, {AF_VSOCK, SOCK_STREAM, 0}}), errno_verdict(EAFNOSUPPORT));
  EXPECT_EQ(run(program, {SYS_socket, {AF_ALG, SOCK_SEQPACKET, 0}}), errno_verdict(EAFNOSUPPORT));
  EXPECT_EQ(run(program, {SYS_socketpair, {AF_VSOCK, SOCK_STREAM, 0}}),
            errno_verdict(EAFNOSUPPORT));
  // The kernel reads the family as an int: junk in the high half changes
  // nothing for it, and must change nothing for the filter.
  EXPECT_EQ(run(program, {SYS_socket, {0xdeadbeef00000000ull | AF_VSOCK, SOCK_STREAM, 0}}),
            errno_verdict(EAFNOSUPPORT));
  EXPECT_EQ(run(program, {SYS_modify_ldt, {0, 0, 0}}), errno_verdict(EPERM));
  EXPECT_EQ(run(program, {nr_of("memfd_secret")}), errno_verdict(ENOSYS));
  EXPECT_EQ(run(program, {SYS_mbind}), errno_verdict(ENOSYS));
  EXPECT_EQ(run(program, {SYS_process_madvise}), errno_verdict(EPERM));
  EXPECT_EQ(run(program, {SYS_uselib}), errno_verdict(ENOSYS));
}

TEST(SeccompPolicy, OrdinaryRuntimeCallsAreAllowedByEveryProgram) {
  for (const SeccompProgram* program :
       {&default_seccomp_program(FatalMode::kNotifySpawner),
        &default_seccomp_program(FatalMode::kKillProcess), &snapshot_seccomp_program()}) {
    for (const Call& call : ordinary_calls()) {
      EXPECT_EQ(run(*program, call), kAllow)
          << syscall_name(static_cast<int>(call.nr)) << " arg0 " << call.args[0];
    }
  }
}

TEST(SeccompPolicy, ForeignArchitecturesAreKilledByEveryProgram) {
  for (const SeccompProgram* program :
       {&default_seccomp_program(FatalMode::kNotifySpawner), &snapshot_seccomp_program()}) {
    EXPECT_EQ(run(*program, {SYS_getpid, {}, AUDIT_ARCH_I386}), kKillProcess);
    EXPECT_EQ(run(*program, {0x40000000 | SYS_getpid}), kKillProcess) << "x32";
  }
}

// ---- The snapshot tier -------------------------------------------------------

TEST(SnapshotSeccompPolicy, EveryRuleHasAReasonAndNoneIsFatal) {
  expect_well_formed(snapshot_seccomp_policy(), false);
}

TEST(SnapshotSeccompPolicy, CompiledProgramMatchesGoldenCopy) {
  const auto& program = snapshot_seccomp_program();
  EXPECT_EQ(program.fatal_mode, FatalMode::kNoFatalRules);
  ASSERT_GT(program.instructions.size(), 20u);
  ASSERT_LE(program.instructions.size(), size_t{BPF_MAXINSNS});
  expect_matches_golden(program, "snapshot_policy.bpf.txt");
}

TEST(SnapshotSeccompPolicy, HasNoFatalVerdictButTheForeignArchitecture) {
  const auto& program = snapshot_seccomp_program();
  EXPECT_EQ(returns_of(program, SECCOMP_RET_USER_NOTIF), 0u);
  EXPECT_GE(returns_of(program, SECCOMP_RET_TRACE), 1u);
  // libseccomp may emit more than one architecture check (a rule with two
  // argument conditions adds one), so the kill verdicts are not counted but
  // run: no native call, whatever its arguments, is killed.
  EXPECT_GE(returns_of(program, SECCOMP_RET_KILL_PROCESS), 1u);
  for (long nr = 0; nr < 512; ++nr) {
    for (uint64_t arg : {uint64_t{0}, uint64_t{1}, uint64_t{SIGKILL}, ~uint64_t{0}}) {
      ASSERT_NE(run(program, Call{nr, {arg, arg}}), kKillProcess) << syscall_name(static_cast<int>(nr));
      ASSERT_NE(run(program, Call{nr, {arg, 0}}), kKillProcess) << syscall_name(static_cast<int>(nr));
    }
  }
}

TEST(SnapshotSeccompPolicy, ExceptionsAreDocumentedAndNameSandboxDenials) {
  ASSERT_FALSE(snapshot_seccomp_exceptions().empty());
  std::set<std::string> names;
  for (const auto& exception : snapshot_seccomp_exceptions()) {
    EXPECT_TRUE(names.insert(exception.syscall).second) << exception.syscall;
    EXPECT_GT(strlen(exception.treatment), 0u) << exception.syscall;
    EXPECT_GT(strlen(exception.reason), 0u) << exception.syscall;
    bool denied_by_sandbox = false;
    for (const auto& rule : default_seccomp_policy()) {
      denied_by_sandbox |=
          strcmp(rule.syscall, exception.syscall) == 0 && rule.action == SeccompAction::kDenyErrno;
    }
    EXPECT_TRUE(denied_by_sandbox) << exception.syscall << ": a stale exception";
  }
  EXPECT_EQ(names, (std::set<std::string>{"clone", "unshare", "mount", "sethostname"}));
}

TEST(SnapshotSeccompPolicy, EverySandboxDenialIsDeniedAlikeOrIsAnException) {
  const auto snapshot = snapshot_seccomp_policy();
  const auto& program = snapshot_seccomp_program();
  for (const auto& rule : default_seccomp_policy()) {
    if (rule.action != SeccompAction::kDenyErrno) continue;
    if (is_exception(rule.syscall)) continue;
    bool present = false;
    for (const auto& own : snapshot) present |= same_rule(rule, own);
    EXPECT_TRUE(present) << rule.syscall << " (" << rule.reason << ") is not denied alike";
    if (nr_of(rule.syscall) >= 0) {
      EXPECT_EQ(run(program, call_matching(rule)), errno_verdict(rule.err)) << rule.syscall;
    }
  }
}

TEST(SnapshotSeccompPolicy, EverySandboxFatalRuleFailsBelowTheSandboxVerdict) {
  const auto snapshot = snapshot_seccomp_policy();
  const auto& program = snapshot_seccomp_program();
  const auto& notify = default_seccomp_program(FatalMode::kNotifySpawner);
  const auto& kill = default_seccomp_program(FatalMode::kKillProcess);
  size_t fatal_rules = 0;
  for (const auto& rule : default_seccomp_policy()) {
    if (rule.action != SeccompAction::kFatal) continue;
    ++fatal_rules;
    SeccompRule expected = rule;
    expected.action = SeccompAction::kDenyBelowNotify;
    expected.err = 0;
    bool present = false;
    for (const auto& own : snapshot) present |= same_rule(expected, own);
    EXPECT_TRUE(present) << rule.syscall << " is not kDenyBelowNotify in the snapshot tier";
    if (nr_of(rule.syscall) < 0) continue;
    const Call call = call_matching(rule);
    EXPECT_EQ(run(program, call), kTrace) << rule.syscall;
    // Inside a sandbox, the sandbox's verdict (and its report) wins.
    EXPECT_EQ(stacked(run(program, call), run(notify, call)), kNotify) << rule.syscall;
    EXPECT_EQ(stacked(run(program, call), run(kill, call)), kKillProcess) << rule.syscall;
  }
  EXPECT_GT(fatal_rules, 5u);
}

TEST(SnapshotSeccompPolicy, CloneOnlyWithoutNamespacesOrWithExactlyTheSandboxSet) {
  const auto& program = snapshot_seccomp_program();
  const uint64_t namespace_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                      CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
  // Other flags a clone carries must not change the verdict, nor junk in the
  // high half of the register, which the kernel ignores for clone(2).
  const uint64_t other_flags[] = {
      0,
      SIGCHLD,
      CLONE_PARENT | CLONE_PIDFD,
      CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS,
      0xffffffff00000000ull | SIGCHLD,
  };
  size_t allowed = 0, refused = 0;
  for (unsigned combination = 0; combination < 128; ++combination) {
    uint64_t flags = 0;
    for (unsigned bit = 0; bit < 7; ++bit) {
      if (combination & (1u << bit)) flags |= namespace_flags[bit];
    }
    const bool permitted = flags == 0 || flags == kSandboxCloneNamespaces;
    for (uint64_t other : other_flags) {
      const uint32_t verdict = run(program, {SYS_clone, {flags | other}});
      EXPECT_EQ(verdict, permitted ? kAllow : errno_verdict(EPERM))
          << std::hex << "clone flags 0x" << (flags | other);
    }
    permitted ? ++allowed : ++refused;
  }
  EXPECT_EQ(allowed, 2u);
  EXPECT_EQ(refused, 126u);
  EXPECT_EQ(run(program, {SYS_clone, {CLONE_NEWNET | SIGCHLD}}), errno_verdict(EPERM));
  EXPECT_EQ(run(program, {SYS_clone, {kSandboxCloneNamespaces | CLONE_NEWCGROUP | SIGCHLD}}),
            errno_verdict(EPERM));
  EXPECT_EQ(run(program, {SYS_clone3}), errno_verdict(ENOSYS));
}

TEST(SnapshotSeccompPolicy, UnshareOnlyTheCgroupNamespace) {
  const auto& program = snapshot_seccomp_program();
  EXPECT_EQ(run(program, {SYS_unshare, {CLONE_NEWCGROUP}}), kAllow);
  for (uint64_t flags :
       {uint64_t{0}, uint64_t{CLONE_NEWNS}, uint64_t{CLONE_NEWUSER}, uint64_t{CLONE_NEWNET},
        uint64_t{CLONE_NEWCGROUP | CLONE_NEWNS}, uint64_t{CLONE_NEWCGROUP | CLONE_FILES},
        uint64_t{CLONE_FILES}, uint64_t{0x80} /* CLONE_NEWTIME */,
        (uint64_t{1} << 32) | CLONE_NEWCGROUP}) {
    EXPECT_EQ(run(program, {SYS_unshare, {flags}}), errno_verdict(EPERM))
        << std::hex << "unshare 0x" << flags;
  }
}

TEST(SnapshotSeccompPolicy, MountAndHostNameOpenTheRestOfTheMountApiClosed) {
  const auto& program = snapshot_seccomp_program();
  EXPECT_EQ(run(program, {SYS_mount}), kAllow);
  EXPECT_EQ(run(program, {SYS_sethostname}), kAllow);
  for (const char* name : {"umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
                           "fsmount", "fsconfig", "fspick", "mount_setattr", "setdomainname",
                           "setns", "ptrace", "bpf", "keyctl", "io_uring_setup"}) {
    EXPECT_EQ(run(program, {nr_of(name)}), errno_verdict(EPERM)) << name;
  }
  EXPECT_EQ(run(program, {SYS_finit_module}), kTrace);
}

// A snapshot must die with sproutd: its parent-death signal cannot be
// cleared or changed, in either tier; setting SIGKILL (a sandbox's setup) is
// allowed.
TEST(SeccompPolicy, ParentDeathSignalCanOnlyBeSigkill) {
  for (const SeccompProgram* program :
       {&default_seccomp_program(FatalMode::kNotifySpawner), &snapshot_seccomp_program()}) {
    EXPECT_EQ(run(*program, Call{SYS_prctl, {PR_SET_PDEATHSIG, 0}}), errno_verdict(EPERM));
    EXPECT_EQ(run(*program, Call{SYS_prctl, {PR_SET_PDEATHSIG, SIGTERM}}), errno_verdict(EPERM));
    EXPECT_EQ(run(*program, Call{SYS_prctl, {PR_SET_PDEATHSIG, SIGKILL}}), kAllow);
    EXPECT_EQ(run(*program, Call{SYS_prctl, {PR_SET_NAME, 0}}), kAllow);
    EXPECT_EQ(run(*program, Call{SYS_inotify_init1, {0, 0}}), errno_verdict(ENOSYS));
  }
}

// Inside a sandbox, which stacks its own filter on the snapshot tier's, every
// call gets exactly the verdict the sandbox's filter alone would give: the
// snapshot tier never overrides the sandbox.
TEST(SnapshotSeccompPolicy, StackedUnderASandboxItNeverChangesTheSandboxVerdict) {
  const auto& snapshot = snapshot_seccomp_program();
  std::vector<uint64_t> first_args = {0,        SIGCHLD, CLONE_NEWCGROUP, kSandboxCloneNamespaces,
                                      AF_VSOCK, AF_ALG,  AF_INET};
  for (unsigned bit = 0; bit < 64; ++bit) first_args.push_back(uint64_t{1} << bit);
  for (const SeccompProgram* sandbox : {&default_seccomp_program(FatalMode::kNotifySpawner),
                                        &default_seccomp_program(FatalMode::kKillProcess)}) {
    for (long nr = 0; nr < 512; ++nr) {
      std::vector<Call> calls;
      for (uint64_t arg : first_args) calls.push_back(Call{nr, {arg, arg}});
      calls.push_back(Call{nr, {1, TIOCSTI}});
      calls.push_back(Call{nr, {1, TIOCLINUX}});
      for (const Call& call : calls) {
        const uint32_t alone = run(*sandbox, call);
        ASSERT_EQ(stacked(run(snapshot, call), alone), alone)
            << syscall_name(static_cast<int>(nr)) << std::hex << " args 0x" << call.args[0] << " 0x"
            << call.args[1];
      }
    }
  }
}

TEST(SnapshotSeccompPolicy, LoadsWithoutAListenerAndRefusesFatalRules) {
  EXPECT_EQ(snapshot_seccomp_program().fatal_mode, FatalMode::kNoFatalRules);
  const SeccompRule fatal[] = {{"finit_module", SeccompAction::kFatal, 0, -1, 0, 0, "test"}};
  EXPECT_FALSE(compile_seccomp_policy(fatal, FatalMode::kNoFatalRules).has_value());
  const SeccompRule below[] = {
      {"finit_module", SeccompAction::kDenyBelowNotify, 0, -1, 0, 0, "test"}};
  auto compiled = compile_seccomp_policy(below, FatalMode::kNoFatalRules);
  ASSERT_TRUE(compiled.has_value()) << compiled.error().message();
  EXPECT_EQ(run(*compiled, {SYS_finit_module}), kTrace);
  EXPECT_EQ(run(*compiled, {SYS_init_module}), kAllow);
}

TEST(SnapshotSeccompPolicy, PrecompileReturnsTheSamePrograms) {
  const SeccompProgram* before = &snapshot_seccomp_program();
  precompile_seccomp_programs();
  EXPECT_EQ(&snapshot_seccomp_program(), before);
  EXPECT_FALSE(default_seccomp_program(FatalMode::kKillProcess).instructions.empty());
}

}  // namespace
}  // namespace sprout
