// The seccomp policy as data, and its compiled form against a stored golden
// copy: a change to the policy or to libseccomp's output shows up as a diff
// to review, never silently. Regenerate with SPROUT_UPDATE_GOLDEN=1.
#include "sandbox/seccomp_policy.h"

#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include <cstdio>
#include <cstdlib>
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

TEST(SeccompPolicy, EveryRuleHasAReasonAndAKnownSyscall) {
  std::set<std::string> seen;
  for (const auto& rule : default_seccomp_policy()) {
    EXPECT_NE(std::string(rule.reason), "") << rule.syscall;
    EXPECT_NE(seccomp_syscall_resolve_name(rule.syscall), __NR_SCMP_ERROR) << rule.syscall;
    if (rule.action == SeccompAction::kDenyErrno) {
      EXPECT_GT(rule.err, 0) << rule.syscall;
    }
    if (rule.arg_index < 0) {
      EXPECT_TRUE(seen.insert(rule.syscall).second) << "duplicate rule " << rule.syscall;
    }
  }
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
  const std::string golden_path = SPROUT_GOLDEN_DIR "/default_policy.bpf.txt";
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

}  // namespace
}  // namespace sprout
