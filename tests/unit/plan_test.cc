// Parent-side planning: defaults, id maps, rlimits, mount plans, and the
// plain child plan a PreparedSandbox hands to the child. No root.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "base/errors.h"
#include "sandbox/id_map.h"
#include "sandbox/mount_plan.h"
#include "sandbox/prepared_sandbox.h"
#include "sandbox/rlimit_plan.h"
#include "sandbox/spec_defaults.h"

namespace sprout {
namespace {

TEST(SpecDefaults, FillOnlyZeroFields) {
  sandbox::SandboxSpec spec;
  spec.set_pids_limit(7);
  apply_spec_defaults(spec);
  EXPECT_EQ(spec.pids_limit(), 7u);
  EXPECT_EQ(spec.memory_limit_bytes(), kDefaultMemoryLimitBytes);
  EXPECT_EQ(spec.runtime_paths(0), "/usr");
  EXPECT_EQ(spec.working_dir(), "/");
  spec.set_code_dir("/srv/code");
  spec.clear_working_dir();
  apply_spec_defaults(spec);
  EXPECT_EQ(spec.working_dir(), "/var/task");
}

TEST(IdMaps, NeverMapOntoHostRoot) {
  auto maps = plan_id_maps(0, 0);
  if (geteuid() == 0) {
    EXPECT_EQ(maps.uid_map, "0 65534 1\n");
    EXPECT_EQ(maps.gid_map, "0 65534 1\n");
    EXPECT_EQ(plan_id_maps(1234, 1235).uid_map, "0 1234 1\n");
  } else {
    EXPECT_EQ(maps.uid_map, "0 " + std::to_string(geteuid()) + " 1\n");
    EXPECT_FALSE(maps.spawner_is_root);
  }
}

TEST(Rlimits, MemoryFenceOnlyWithoutCgroup) {
  sandbox::SandboxSpec spec;
  apply_spec_defaults(spec);
  spec.set_deadline_ms(2500);
  auto has = [](const RlimitPlan& plan, int resource) {
    for (size_t i = 0; i < plan.count; ++i)
      if (plan.settings[i].resource == resource) return true;
    return false;
  };
  EXPECT_FALSE(has(plan_rlimits(spec, true), RLIMIT_AS));
  EXPECT_TRUE(has(plan_rlimits(spec, false), RLIMIT_AS));
  auto plan = plan_rlimits(spec, true);
  EXPECT_TRUE(has(plan, RLIMIT_NPROC));
  EXPECT_TRUE(has(plan, RLIMIT_CPU));
}

TEST(MountPlan, RefusesParentDirectoryComponents) {
  sandbox::SandboxSpec spec;
  apply_spec_defaults(spec);
  auto* bind = spec.add_binds();
  bind->set_source("/srv/../etc");
  bind->set_target("/data");
  auto plan = plan_mounts(spec);
  ASSERT_FALSE(plan.has_value());
  EXPECT_NE(plan.error().message().find("absolute and clean"), std::string::npos);
}

TEST(MountPlan, EndsReadOnlyWithFreshProcDevAndTmp) {
  sandbox::SandboxSpec spec;
  spec.set_code_dir("/srv/code");
  apply_spec_defaults(spec);
  auto plan = plan_mounts(spec);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  std::vector<std::string> descriptions;
  for (const auto& step : plan->steps) descriptions.push_back(step.description);
  auto position = [&](const std::string& d) {
    return std::find(descriptions.begin(), descriptions.end(), d) - descriptions.begin();
  };
  EXPECT_LT(position("bind /srv/code on /var/task"), position("pivot_root into the new root"));
  EXPECT_LT(position("mount proc on /proc"), position("pivot_root into the new root"));
  EXPECT_LT(position("mount tmpfs on /tmp"), position("pivot_root into the new root"));
  EXPECT_EQ(descriptions.back(), "remount / read-only");
  EXPECT_EQ(plan->steps[position("mount tmpfs on /tmp")].data, "size=67108864,mode=1777");
}

TEST(MountPlan, ChildStepsPointIntoThePlan) {
  sandbox::SandboxSpec spec;
  spec.set_code_dir("/srv/code");
  apply_spec_defaults(spec);
  auto plan = plan_mounts(spec);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  const std::vector<MountStep> steps = plan->child_steps();
  ASSERT_EQ(steps.size(), plan->steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].kind, plan->steps[i].kind);
    EXPECT_EQ(steps[i].target, plan->steps[i].target.c_str());
    EXPECT_EQ(steps[i].description, plan->steps[i].description.c_str());
    // Files such as ld.so.cache hold NUL bytes: the size travels too.
    EXPECT_EQ(std::string(steps[i].data, steps[i].data_size), plan->steps[i].data);
  }
}

TEST(PreparedSandbox, ChildPlanIsPlainDataFilledBeforeTheClone) {
  sandbox::SandboxSpec spec;
  spec.add_argv("/bin/true");
  spec.add_argv("--flag");
  spec.add_env("A=1");
  spec.set_hostname("box");
  spec.set_working_dir("/tmp");
  auto* mapping = spec.add_fds();
  mapping->set_parent_fd(7);
  mapping->set_child_fd(1);
  auto prepared = prepare_sandbox(spec, true);
  ASSERT_TRUE(prepared.has_value()) << prepared.error().message();
  const SandboxChildPlan& child = (*prepared)->child;
  ASSERT_NE(child.argv, nullptr);
  EXPECT_STREQ(child.argv[0], "/bin/true");
  EXPECT_STREQ(child.argv[1], "--flag");
  EXPECT_EQ(child.argv[2], nullptr);
  EXPECT_STREQ(child.envp[0], "A=1");
  EXPECT_EQ(child.envp[1], nullptr);
  EXPECT_EQ(std::string(child.hostname, child.hostname_size), "box");
  EXPECT_STREQ(child.working_dir, "/tmp");
  ASSERT_EQ(child.descriptor_move_count, 1u);
  EXPECT_EQ(child.descriptor_moves[0].from, 7);
  EXPECT_EQ(child.descriptor_moves[0].to, 1);
  EXPECT_EQ(child.mount_step_count, (*prepared)->mounts.steps.size());
  EXPECT_EQ(child.clear_groups, (*prepared)->id_maps.spawner_is_root);
  EXPECT_GT(child.rlimits.count, 0u);
  EXPECT_NE(child.seccomp_notify, nullptr);
  EXPECT_NE(child.seccomp_kill, nullptr);
  // The child's strings are its own copies, not the spec's.
  EXPECT_NE(static_cast<const void*>(child.argv[0]),
            static_cast<const void*>((*prepared)->spec.argv(0).data()));
}

TEST(Errors, MessageNamesStepObjectAndErrno) {
  Error error{"mount tmpfs on", "/tmp", EPERM, {}};
  EXPECT_EQ(error.message(), "mount tmpfs on /tmp: EPERM (Operation not permitted)");
  EXPECT_EQ(plain_error("prepare", "bad spec").error().message(), "prepare: bad spec");
}

}  // namespace
}  // namespace sprout
