// The function's pids, CPU and memory limits are on the cgroup leaf of its
// snapshot (where its init and fork hooks run), through
// a real sproutd. An attacker's review found both leaves without a pids or
// CPU limit (only memory was set): an init forked 302 processes against a
// limit of 64. Provokes: an init that tries to fork 200 sleeping children.
// Expected: it stops near the limit (fork fails with EAGAIN), and the leaves
// read the function's limits. No timing is asserted.
#include <fstream>

#include "tests/e2e/attack_fixture.h"

namespace sprout::testing {
namespace {

constexpr int kDefaultPidsLimit = 64;          // sandbox/spec_defaults
constexpr long kDefaultCpuQuotaUs = 100000;    // 1000 millicores at a 100 ms period
constexpr long kMemoryBytes = 96l << 20;       // --memory-mb 96

class CgroupLimitsTest : public AttackTest {
 protected:
  // The v1 directory of `controller` for a leaf of sproutd named `leaf`.
  std::string leaf_dir(const std::string& controller, const std::string& leaf) {
    for (const auto& dir : cgroup_dirs_named("sproutd-" + std::to_string(daemon_))) {
      if (dir.find("/" + controller + "/") == std::string::npos &&
          dir.find("/" + controller + ",") == std::string::npos &&
          dir.find("," + controller + "/") == std::string::npos)
        continue;
      return dir + "/" + leaf;
    }
    return "";
  }
  static std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  }
};

TEST_F(CgroupLimitsTest, SnapshotLeafCarriesTheFunctionsLimitsAndStopsAForkBomb) {
  start();
  if (read_text("/proc/self/cgroup").find(":pids:") == std::string::npos)
    GTEST_SKIP() << "no v1 pids controller on this machine";
  auto deployed = deploy("bomb",
                         "import os, signal, time\n"
                         "forked, refused, children = 0, '', []\n"
                         "for _ in range(200):\n"
                         "    try:\n"
                         "        pid = os.fork()\n"
                         "    except OSError as e:\n"
                         "        refused = e.strerror\n"
                         "        break\n"
                         "    if pid == 0:\n"
                         "        time.sleep(3600)\n"
                         "        os._exit(0)\n"
                         "    forked += 1\n"
                         "    children.append(pid)\n"
                         "# The bomb proved the limit; its processes would leave no room for\n"
                         "# the sandboxes, which start in this leaf.\n"
                         "for pid in children:\n"
                         "    os.kill(pid, signal.SIGKILL)\n"
                         "    os.waitpid(pid, 0)\n"
                         "def handler(event, context):\n"
                         "    return {'forked': forked, 'refused': refused}\n",
                         tag("bomb"), {"--memory-mb", "96", "--no-prefork"});
  ASSERT_TRUE(deployed.ok()) << deployed.text;
  auto answer = invoke("bomb");
  ASSERT_EQ(answer.status, api::OK) << answer.describe();
  // The init's fork bomb met the snapshot leaf's pids limit.
  EXPECT_LT(answer.json["forked"].as_int(), kDefaultPidsLimit) << answer.result;
  EXPECT_FALSE(answer.json["refused"].as_string().empty()) << answer.result;

  auto snapshot = snapshot_of(tag("bomb"));
  ASSERT_TRUE(snapshot.has_value());
  const std::string snapshot_leaf = cgroup_of(snapshot->pid, "pids");
  const std::string snapshot_name = snapshot_leaf.substr(snapshot_leaf.rfind('/') + 1);
  // (The sandbox's leaf takes the same limits from the same function; its
  // name is not visible from inside, where the cgroup namespace hides it.)
  for (const std::string& leaf : {snapshot_name}) {
    SCOPED_TRACE("leaf " + leaf);
    EXPECT_EQ(first_line(leaf_dir("pids", leaf) + "/pids.max"), std::to_string(kDefaultPidsLimit));
    EXPECT_EQ(first_line(leaf_dir("cpu", leaf) + "/cpu.cfs_quota_us"),
              std::to_string(kDefaultCpuQuotaUs));
    EXPECT_EQ(first_line(leaf_dir("memory", leaf) + "/memory.limit_in_bytes"),
              std::to_string(kMemoryBytes));
  }
}

}  // namespace
}  // namespace sprout::testing
