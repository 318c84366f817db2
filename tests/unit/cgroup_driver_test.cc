// The cgroup v1 and v2 drivers, discovery and the pool, against a fake
// cgroupfs: a directory tree of plain files in a temporary directory, with
// fake /proc/self/cgroup and /proc/self/mountinfo files. This machine cannot
// run v2 controllers, so this is where the v2 driver is exercised.
//
// The seam is CgroupFs (host/cgroup_fs.h): FakeCgroupFs does what the kernel
// does on mkdir (fill the directory with the controllers' files) and on rmdir
// (remove them; EBUSY while a listed process still runs). Every other file
// operation of the drivers is the real one, on plain files: a counter the
// kernel would update is written by the test. The only processes whose pids
// go into fake cgroup.procs files are children of the test. No root needed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/cgroup.h"
#include "host/cgroup_pool.h"
#include "host/cgroup_v2_delegation.h"

namespace sprout {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kV2Files = {"cgroup.procs",
                                           "cgroup.kill",
                                           "cgroup.controllers",
                                           "cgroup.subtree_control",
                                           "memory.max",
                                           "memory.swap.max",
                                           "memory.peak",
                                           "memory.events",
                                           "pids.max",
                                           "cpu.max",
                                           "cpu.stat"};
const std::vector<std::string> kV1MemoryFiles = {"cgroup.procs",
                                                 "memory.limit_in_bytes",
                                                 "memory.memsw.limit_in_bytes",
                                                 "memory.max_usage_in_bytes",
                                                 "memory.oom_control",
                                                 "memory.failcnt"};
const std::vector<std::string> kV1PidsFiles = {"cgroup.procs", "pids.max"};
const std::vector<std::string> kV1CpuFiles = {"cgroup.procs", "cpu.cfs_quota_us",
                                              "cpu.cfs_period_us", "cpuacct.usage"};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Whether `pid` runs and is not a zombie: the kernel drops a process from its
// cgroup when it exits.
bool runs(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

class FakeCgroupFs : public CgroupFs {
 public:
  // Directories made under `root` get `files`, empty.
  void add_tree(const std::string& root, std::vector<std::string> files) {
    trees_.emplace_back(root, std::move(files));
  }

  int make_dir(const std::string& path) const override {
    if (::mkdir(path.c_str(), 0755) != 0) return -1;
    const std::vector<std::string>* files = nullptr;
    size_t longest = 0;
    for (const auto& [root, names] : trees_) {
      const bool under = path == root || path.rfind(root + "/", 0) == 0;
      if (under && root.size() > longest) {
        files = &names;
        longest = root.size();
      }
    }
    if (files) {
      for (const auto& name : *files) write_text(path + "/" + name, "");
    }
    return 0;
  }

  int remove_dir(const std::string& path) const override {
    std::istringstream procs(read_text(path + "/cgroup.procs"));
    pid_t pid;
    while (procs >> pid) {
      if (runs(pid)) {
        errno = EBUSY;
        return -1;
      }
    }
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(path, ignored)) {
      if (entry.is_regular_file()) fs::remove(entry.path(), ignored);
    }
    return ::rmdir(path.c_str());
  }

  // Two of the kernel's v2 rules: writing cgroup.subtree_control of a
  // cgroup that lists a running process fails with EBUSY ("no internal
  // processes"; the test never uses the root), and writing a pid to a
  // cgroup.procs moves it there from wherever it was.
  Result<void> write_file(const std::string& path, const std::string& value) const override {
    const std::string dir = fs::path(path).parent_path().string();
    const std::string name = fs::path(path).filename().string();
    if (name == "cgroup.subtree_control" && lists_running(dir + "/cgroup.procs")) {
      return os_error("write " + value + " to", path, EBUSY);
    }
    if (name == "cgroup.procs") {
      for (const auto& [root, names] : trees_) {
        std::error_code ignored;
        for (const auto& entry : fs::recursive_directory_iterator(root, ignored)) {
          if (entry.path().filename() == "cgroup.procs") remove_pid(entry.path(), value);
        }
      }
      std::ofstream(path, std::ios::app) << value << "\n";
      return {};
    }
    return FakeCgroupFs::CgroupFs::write_file(path, value);
  }

 private:
  static bool lists_running(const std::string& procs_file) {
    std::istringstream procs(read_text(procs_file));
    pid_t pid;
    while (procs >> pid)
      if (runs(pid)) return true;
    return false;
  }
  static void remove_pid(const fs::path& procs_file, const std::string& pid) {
    std::istringstream procs(read_text(procs_file));
    std::string kept, line;
    while (std::getline(procs, line))
      if (!line.empty() && line != pid) kept += line + "\n";
    write_text(procs_file, kept);
  }

  std::vector<std::pair<std::string, std::vector<std::string>>> trees_;
};

// The fake cgroupfs, except that the rmdir of one directory blocks until the
// test releases it: a busy leaf whose processes take their time to exit, as
// long as the test wants, with no timing assumed.
class LatchedRemovalFs : public FakeCgroupFs {
 public:
  explicit LatchedRemovalFs(const FakeCgroupFs& fake) : FakeCgroupFs(fake) {}

  // Set before any thread may remove `path`.
  void hold(std::string path) { held_ = std::move(path); }
  // Whether a removal of the held directory has begun within `timeout`.
  bool wait_until_entered(std::chrono::seconds timeout) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

  int remove_dir(const std::string& path) const override {
    if (path == held_) {
      std::unique_lock lock(mutex_);
      entered_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return released_; });
    }
    return FakeCgroupFs::remove_dir(path);
  }

 private:
  std::string held_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable bool entered_ = false;
  bool released_ = false;
};

// A child of the test that waits to be killed.
class Child {
 public:
  Child() : pid_(::fork()) {
    if (pid_ == 0) {
      for (;;) ::pause();
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // The signal that ended it; waits for its end.
  int wait_signal() {
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }

 private:
  pid_t pid_;
};

constexpr char kHybridCgroup[] =
    "9:name=systemd:/sprout.slice\n"
    "8:pids:/sprout.slice\n"
    "4:memory:/sprout.slice\n"
    "2:cpu,cpuacct:/sprout.slice\n"
    "0::/sprout.slice\n";
constexpr char kHybridMountinfo[] =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "30 25 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
    "32 30 0:29 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup "
    "rw,xattr,name=systemd\n"
    "33 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:11 - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:12 - cgroup cgroup rw,memory\n"
    "35 30 0:32 / /sys/fs/cgroup/pids rw,nosuid shared:13 - cgroup cgroup rw,pids\n";

constexpr char kV2Cgroup[] = "0::/user.slice/sprout.service\n";
constexpr char kV2Mountinfo[] =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "28 25 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

// As on this machine: cpu and cpuacct mounted apart, no v2 tree.
constexpr char kV1Cgroup[] =
    "8:pids:/\n"
    "4:memory:/box/1\n"
    "2:cpuacct:/\n"
    "1:cpu:/\n";
constexpr char kV1Mountinfo[] =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n";

class CgroupDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sprout-cgroup-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    tmp_ = pattern;
    host_.cgroupfs_root = tmp_ + "/sys/fs/cgroup";
    host_.proc_self_cgroup = tmp_ + "/cgroup";
    host_.proc_self_mountinfo = tmp_ + "/mountinfo";
    host_.fs = &fake_;
    fs::create_directories(host_.cgroupfs_root);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(tmp_, ignored);
  }

  std::string root() const { return host_.cgroupfs_root; }

  // Empties the leaf's cgroup.procs, as the kernel would once its processes
  // are gone: no pid of a reaped child stays behind for the pool to kill.
  static void clear_procs(const SandboxCgroup& leaf) {
    for (const auto& dir : leaf.dirs()) write_text(dir + "/cgroup.procs", "");
  }

  // The fake files of this process and the directory of its own cgroup.
  void proc_files(const std::string& cgroup, const std::string& mountinfo) {
    write_text(host_.proc_self_cgroup, cgroup);
    write_text(host_.proc_self_mountinfo, mountinfo);
  }
  // A hierarchy mounted at root()/<mount> whose files are `files`, with this
  // process's cgroup at <mount>/<own>.
  std::string tree(const std::string& mount, const std::string& own,
                   const std::vector<std::string>& files) {
    const std::string top = root() + "/" + mount;
    fake_.add_tree(top, files);
    std::string dir = top + own;
    fs::create_directories(fs::path(dir).parent_path());
    fake_.make_dir(dir);
    return dir;
  }

  // Pure v2 with memory, pids and cpu delegated to our cgroup.
  std::string v2_host() {
    proc_files(kV2Cgroup, kV2Mountinfo);
    fake_.add_tree(root(), kV2Files);
    std::string own = root() + "/user.slice/sprout.service";
    fs::create_directories(root() + "/user.slice");
    fake_.make_dir(own);
    write_text(own + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    return own;
  }
  // Hybrid: v1 memory, pids, cpu+cpuacct; a v2 tree without controllers.
  void hybrid_host() {
    proc_files(kHybridCgroup, kHybridMountinfo);
    memory_ = tree("memory", "/sprout.slice", kV1MemoryFiles);
    pids_ = tree("pids", "/sprout.slice", kV1PidsFiles);
    cpu_ = tree("cpu,cpuacct", "/sprout.slice", kV1CpuFiles);
    tree("systemd", "/sprout.slice", {"cgroup.procs"});
    std::string unified = tree("unified", "/sprout.slice", kV2Files);
    write_text(unified + "/cgroup.controllers", "\n");
  }

  std::unique_ptr<CgroupPool> make_pool(size_t prewarm = 1) {
    auto pool = CgroupPool::create({.prefix = "sprout-test", .prewarm = prewarm, .host = host_});
    EXPECT_TRUE(pool.has_value()) << pool.error().message();
    return pool ? std::move(*pool) : nullptr;
  }
  std::string pool_name() const { return "sprout-test-" + std::to_string(::getpid()); }

  std::string tmp_;
  FakeCgroupFs fake_;
  CgroupHost host_;
  std::string memory_, pids_, cpu_;  // hybrid_host(): our own cgroup per tree
};

// --- discovery ---

TEST_F(CgroupDriverTest, DiscoversV1OnAHybridHostWhoseV2TreeHasNoControllers) {
  hybrid_host();
  CgroupLayout layout = discover_cgroup_layout(host_);
  EXPECT_EQ(layout.version, CgroupVersion::kV1);
  EXPECT_TRUE(layout.memory && layout.pids && layout.cpu && layout.cpuacct);
  EXPECT_EQ(layout.describe(), "cgroup v1: memory pids cpu cpuacct");
  EXPECT_EQ(layout.fs, &fake_);
  ASSERT_EQ(layout.trees.size(), 3u);  // cpu and cpuacct share a hierarchy
  EXPECT_EQ(layout.trees[0].controllers, "memory");
  EXPECT_EQ(layout.trees[0].own_dir, memory_);
  EXPECT_EQ(layout.trees[1].controllers, "pids");
  EXPECT_EQ(layout.trees[1].own_dir, pids_);
  EXPECT_EQ(layout.trees[2].controllers, "cpu,cpuacct");
  EXPECT_EQ(layout.trees[2].own_dir, cpu_);
}

TEST_F(CgroupDriverTest, DiscoversV2WhenTheUnifiedTreeCarriesMemoryAndPids) {
  std::string own = v2_host();
  CgroupLayout layout = discover_cgroup_layout(host_);
  EXPECT_EQ(layout.version, CgroupVersion::kV2);
  EXPECT_TRUE(layout.memory && layout.pids && layout.cpu && layout.cpuacct);
  EXPECT_EQ(layout.describe(), "cgroup v2: memory pids cpu cpuacct");
  ASSERT_EQ(layout.trees.size(), 1u);
  EXPECT_EQ(layout.trees[0].controllers, "memory,pids,cpu");
  EXPECT_EQ(layout.trees[0].own_dir, own);
}

TEST_F(CgroupDriverTest, DiscoversV2WithoutCpuWhenTheCpuControllerIsNotDelegated) {
  std::string own = v2_host();
  write_text(own + "/cgroup.controllers", "memory pids\n");
  CgroupLayout layout = discover_cgroup_layout(host_);
  EXPECT_EQ(layout.version, CgroupVersion::kV2);
  EXPECT_TRUE(layout.memory && layout.pids);
  EXPECT_FALSE(layout.cpu);
  EXPECT_FALSE(layout.cpuacct);
}

TEST_F(CgroupDriverTest, DiscoversV2InsideACgroupNamespaceWhoseMountRootPrefixesOurPath) {
  proc_files("0::/kubepods/pod1/box\n",
             "28 25 0:25 /kubepods/pod1 /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n");
  fake_.add_tree(root(), kV2Files);
  fake_.make_dir(root() + "/box");
  write_text(root() + "/box/cgroup.controllers", "memory pids cpu\n");
  CgroupLayout layout = discover_cgroup_layout(host_);
  EXPECT_EQ(layout.version, CgroupVersion::kV2);
  ASSERT_EQ(layout.trees.size(), 1u);
  EXPECT_EQ(layout.trees[0].own_dir, root() + "/box");
}

TEST_F(CgroupDriverTest, DiscoversPureV1WithCpuAndCpuacctMountedApart) {
  proc_files(kV1Cgroup, kV1Mountinfo);
  std::string memory = tree("memory", "/box/1", kV1MemoryFiles);
  tree("pids", "", kV1PidsFiles);
  tree("cpu", "", kV1CpuFiles);
  tree("cpuacct", "", kV1CpuFiles);
  CgroupLayout layout = discover_cgroup_layout(host_);
  EXPECT_EQ(layout.version, CgroupVersion::kV1);
  EXPECT_TRUE(layout.memory && layout.pids && layout.cpu && layout.cpuacct);
  ASSERT_EQ(layout.trees.size(), 4u);
  EXPECT_EQ(layout.trees[0].own_dir, memory);
  EXPECT_EQ(layout.trees[1].own_dir, root() + "/pids");  // "/" is the hierarchy's root
  EXPECT_EQ(layout.trees[2].controllers, "cpu");
  EXPECT_EQ(layout.trees[2].own_dir, root() + "/cpu");
  EXPECT_EQ(layout.trees[3].controllers, "cpuacct");
  EXPECT_EQ(layout.trees[3].own_dir, root() + "/cpuacct");
}

TEST_F(CgroupDriverTest, DiscoversNoneWithoutCgroupMounts) {
  proc_files("0::/\n", "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n");
  CgroupLayout layout = discover_cgroup_layout(host_);
  EXPECT_EQ(layout.version, CgroupVersion::kNone);
  EXPECT_TRUE(layout.trees.empty());
  EXPECT_FALSE(layout.memory || layout.pids || layout.cpu || layout.cpuacct);
  EXPECT_EQ(layout.describe(), "no cgroup controllers");
}

TEST_F(CgroupDriverTest, DiscoversNoneWhenNeitherVersionHasAControllerWeUse) {
  proc_files("1:name=systemd:/\n0::/\n",
             "31 30 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
             "32 30 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n");
  tree("unified", "", kV2Files);
  write_text(root() + "/unified/cgroup.controllers", "\n");
  EXPECT_EQ(discover_cgroup_layout(host_).version, CgroupVersion::kNone);
}

TEST_F(CgroupDriverTest, PoolOnAHostWithoutControllersHandsOutEmptyLeases) {
  proc_files("0::/\n", "");
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({.memory_bytes = 1 << 20, .pids = 8, .cpu_millicores = 100});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  EXPECT_FALSE(static_cast<bool>(*lease));
  EXPECT_FALSE(pool->enforces_memory());
  EXPECT_EQ(pool->created_count(), 0u);
}

// --- the v2 driver ---

TEST_F(CgroupDriverTest, V2PoolDelegatesControllersAndCleansUp) {
  std::string own = v2_host();
  const std::string parent = own + "/" + pool_name();
  {
    auto pool = make_pool(2);
    ASSERT_TRUE(pool);
    EXPECT_EQ(pool->layout().version, CgroupVersion::kV2);
    EXPECT_TRUE(pool->enforces_memory());
    EXPECT_EQ(read_text(own + "/cgroup.subtree_control"), "+memory +pids +cpu");
    EXPECT_EQ(read_text(parent + "/cgroup.subtree_control"), "+memory +pids +cpu");
    EXPECT_TRUE(fs::is_directory(parent + "/sb-0"));
    EXPECT_TRUE(fs::is_directory(parent + "/sb-1"));
    EXPECT_EQ(pool->idle_count(), 2u);
  }
  EXPECT_FALSE(fs::exists(parent));
  EXPECT_TRUE(fs::is_directory(own));
}

// Provokes: sproutd's own v2 cgroup holds processes (sproutd under a
// systemd unit, or a container's init beside it), so the kernel refuses to
// enable controllers for its children. Expected: the members move to a leaf
// of their own, the controllers are enabled, and the pool's leaves get them.
TEST_F(CgroupDriverTest, V2MovesTheMembersOfItsOwnCgroupAsideToEnableControllers) {
  std::string own = v2_host();
  Child sproutd, container_init;
  ASSERT_GT(sproutd.pid(), 0);
  ASSERT_GT(container_init.pid(), 0);
  write_text(own + "/cgroup.procs",
             std::to_string(sproutd.pid()) + "\n" + std::to_string(container_init.pid()) + "\n");
  ASSERT_FALSE(fake_.write_file(own + "/cgroup.subtree_control", "+memory"))
      << "the fake must refuse as the kernel does, or this test proves nothing";
  {
    auto pool = make_pool(1);
    ASSERT_TRUE(pool);
    EXPECT_EQ(read_text(own + "/cgroup.subtree_control"), "+memory +pids +cpu");
    EXPECT_EQ(read_text(own + "/cgroup.procs"), "");
    EXPECT_EQ(read_text(own + "/" + kSupervisorLeaf + "/cgroup.procs"),
              std::to_string(sproutd.pid()) + "\n" + std::to_string(container_init.pid()) + "\n");
    EXPECT_TRUE(fs::is_directory(own + "/" + pool_name() + "/sb-0"));
  }
  EXPECT_FALSE(fs::exists(own + "/" + pool_name()));
}

// Provokes: the same with an empty cgroup of our own (the usual delegated
// subtree). Expected: the controllers are enabled at once; no leaf is made.
TEST_F(CgroupDriverTest, V2MakesNoSupervisorLeafWhenItsCgroupHoldsNoProcess) {
  std::string own = v2_host();
  auto pool = make_pool(1);
  ASSERT_TRUE(pool);
  EXPECT_EQ(read_text(own + "/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_FALSE(fs::exists(own + "/" + kSupervisorLeaf));
}

TEST_F(CgroupDriverTest, V2WritesLimitsToTheUnifiedFiles) {
  v2_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({.memory_bytes = 128 << 20, .pids = 64, .cpu_millicores = 500});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  ASSERT_EQ((*lease)->dirs().size(), 1u);
  const std::string leaf = (*lease)->dirs()[0];
  EXPECT_EQ(leaf, root() + "/user.slice/sprout.service/" + pool_name() + "/sb-0");
  EXPECT_EQ(read_text(leaf + "/memory.max"), "134217728");
  EXPECT_EQ(read_text(leaf + "/memory.swap.max"), "0");
  EXPECT_EQ(read_text(leaf + "/pids.max"), "64");
  EXPECT_EQ(read_text(leaf + "/cpu.max"), "50000 100000");
}

TEST_F(CgroupDriverTest, V2EntersByCloneIntoCgroupWithTheLeafsDirectoryFd) {
  v2_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const int fd = (*lease)->clone_into_fd();
  ASSERT_GE(fd, 0);
  struct stat by_fd {
  }, by_path{};
  ASSERT_EQ(::fstat(fd, &by_fd), 0);
  ASSERT_EQ(::stat((*lease)->dirs()[0].c_str(), &by_path), 0);
  EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
  EXPECT_TRUE(S_ISDIR(by_fd.st_mode));
}

TEST_F(CgroupDriverTest, V2AddProcessWritesCgroupProcs) {
  v2_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const std::string leaf = (*lease)->dirs()[0];
  EXPECT_TRUE((*lease)->is_empty());
  Child child;
  ASSERT_TRUE((*lease)->add_process(child.pid()).has_value());
  EXPECT_EQ(read_text(leaf + "/cgroup.procs"), std::to_string(child.pid()));
  EXPECT_FALSE((*lease)->is_empty());
  write_text(leaf + "/cgroup.procs", "");
  EXPECT_TRUE((*lease)->is_empty());
}

TEST_F(CgroupDriverTest, V2CountsOomKillsAndCpuFromTheResetAndReadsThePeak) {
  std::string own = v2_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  // Counters the idle leaf accumulated before this lease.
  const std::string leaf = own + "/" + pool_name() + "/sb-0";
  write_text(leaf + "/memory.events",
             "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n");
  write_text(leaf + "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  write_text(leaf + "/memory.peak", "999999\n");
  auto lease = pool->acquire({.memory_bytes = 64 << 20});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  ASSERT_EQ((*lease)->dirs()[0], leaf);
  // The reset opens memory.peak and writes to it (Linux 6.12+).
  EXPECT_EQ(read_text(leaf + "/memory.peak").rfind("reset\n", 0), 0u);

  write_text(leaf + "/memory.events",
             "low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\noom_group_kill 0\n");
  write_text(leaf + "/cpu.stat", "usage_usec 4000\nuser_usec 3000\nsystem_usec 1000\n");
  write_text(leaf + "/memory.peak", "1048576\n");
  CgroupUsage usage = (*lease)->read_usage();
  EXPECT_EQ(usage.oom_kills, 1u);
  EXPECT_EQ(usage.cpu_time_us, 2500u);
  EXPECT_TRUE(usage.cpu_known);
  EXPECT_EQ(usage.peak_memory_bytes, 1048576u);

  // Read again through the descriptors kept open: the new contents.
  write_text(leaf + "/cpu.stat", "usage_usec 5500\n");
  write_text(leaf + "/memory.peak", "2097152\n");
  usage = (*lease)->read_usage();
  EXPECT_EQ(usage.cpu_time_us, 4000u);
  EXPECT_EQ(usage.peak_memory_bytes, 2097152u);
}

TEST_F(CgroupDriverTest, V2KillAllWritesCgroupKill) {
  v2_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const std::string leaf = (*lease)->dirs()[0];
  Child child;
  ASSERT_TRUE((*lease)->add_process(child.pid()).has_value());
  (*lease)->kill_all();
  EXPECT_EQ(read_text(leaf + "/cgroup.kill"), "1");
  // The fake kernel does not act on cgroup.kill: the child still runs.
  EXPECT_TRUE(runs(child.pid()));
  clear_procs(*lease->get());
}

TEST_F(CgroupDriverTest, V2KillAllWithoutCgroupKillSignalsTheListedProcesses) {
  v2_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const std::string leaf = (*lease)->dirs()[0];
  fs::remove(leaf + "/cgroup.kill");  // before Linux 5.14
  Child child;
  ASSERT_TRUE((*lease)->add_process(child.pid()).has_value());
  (*lease)->kill_all();
  EXPECT_EQ(child.wait_signal(), SIGKILL);
  clear_procs(*lease->get());
}

TEST_F(CgroupDriverTest, V2RemoveDeletesTheLeafAndClosesItsDescriptor) {
  std::string own = v2_host();
  CgroupLayout layout = discover_cgroup_layout(host_);
  fake_.make_dir(own + "/parent");
  auto leaf = SandboxCgroup::create(layout, {own + "/parent"}, "fresh");
  ASSERT_TRUE(leaf.has_value()) << leaf.error().message();
  EXPECT_GE((*leaf)->clone_into_fd(), 0);
  ASSERT_TRUE((*leaf)->apply_limits({.pids = 16}).has_value());
  ASSERT_TRUE((*leaf)->reset_counters().has_value());
  ASSERT_TRUE((*leaf)->remove().has_value());
  EXPECT_FALSE(fs::exists(own + "/parent/fresh"));
  EXPECT_EQ((*leaf)->clone_into_fd(), -1);
  EXPECT_TRUE((*leaf)->dirs().empty());
}

TEST_F(CgroupDriverTest, V2PopulatedLeafIsKilledAndRemovedNotReused) {
  std::string own = v2_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  Child child;
  std::string leaf;
  {
    auto lease = pool->acquire({});
    ASSERT_TRUE(lease.has_value()) << lease.error().message();
    leaf = (*lease)->dirs()[0];
    ASSERT_TRUE((*lease)->add_process(child.pid()).has_value());
  }
  EXPECT_EQ(child.wait_signal(), SIGKILL);
  EXPECT_FALSE(fs::exists(leaf));
  EXPECT_EQ(pool->idle_count(), 0u);
}

TEST_F(CgroupDriverTest, AcquireDoesNotWaitWhileABusyLeafIsBeingRemoved) {
  v2_host();
  LatchedRemovalFs latched(fake_);
  host_.fs = &latched;
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const std::string busy_leaf = (*lease)->dirs()[0];
  // Populated (by a pid above any pid_max: nothing real is signalled), so
  // that giving it back removes it instead of keeping it idle.
  write_text(busy_leaf + "/cgroup.procs", "999999999\n");
  latched.hold(busy_leaf);
  std::optional<CgroupLease> returning(std::move(*lease));
  std::thread giver([&returning] { returning.reset(); });
  if (!latched.wait_until_entered(std::chrono::seconds(30))) {
    latched.release();
    giver.join();
    FAIL() << "giving the leaf back never began to remove it";
  }

  // The removal is stuck in rmdir; another sandbox's acquire() must not be.
  auto acquiring = std::async(std::launch::async, [&pool] { return pool->acquire({}); });
  const bool acquired_meanwhile =
      acquiring.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  latched.release();
  giver.join();
  EXPECT_TRUE(acquired_meanwhile) << "acquire() waited for the removal of a busy leaf";
  auto other = acquiring.get();
  ASSERT_TRUE(other.has_value()) << other.error().message();
  EXPECT_NE((*other)->dirs()[0], busy_leaf);
  EXPECT_FALSE(fs::exists(busy_leaf));
}

// --- the v1 driver ---

TEST_F(CgroupDriverTest, V1PoolMakesItsDirectoryInEveryTree) {
  hybrid_host();
  {
    auto pool = make_pool();
    ASSERT_TRUE(pool);
    EXPECT_EQ(pool->layout().version, CgroupVersion::kV1);
    for (const auto& own : {memory_, pids_, cpu_}) {
      EXPECT_TRUE(fs::is_directory(own + "/" + pool_name() + "/sb-0")) << own;
    }
    // v1 has no subtree_control to write.
    EXPECT_FALSE(fs::exists(memory_ + "/cgroup.subtree_control"));
  }
  for (const auto& own : {memory_, pids_, cpu_}) {
    EXPECT_FALSE(fs::exists(own + "/" + pool_name())) << own;
  }
}

TEST_F(CgroupDriverTest, V1WritesLimitsToEachControllersTree) {
  hybrid_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({.memory_bytes = 128 << 20, .pids = 64, .cpu_millicores = 1500});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const auto& dirs = (*lease)->dirs();
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0], memory_ + "/" + pool_name() + "/sb-0");
  EXPECT_EQ(dirs[1], pids_ + "/" + pool_name() + "/sb-0");
  EXPECT_EQ(dirs[2], cpu_ + "/" + pool_name() + "/sb-0");
  EXPECT_EQ(read_text(dirs[0] + "/memory.limit_in_bytes"), "134217728");
  EXPECT_EQ(read_text(dirs[0] + "/memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(read_text(dirs[1] + "/pids.max"), "64");
  EXPECT_EQ(read_text(dirs[2] + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(read_text(dirs[2] + "/cpu.cfs_quota_us"), "150000");
  EXPECT_EQ((*lease)->clone_into_fd(), -1);
}

TEST_F(CgroupDriverTest, V1WithoutSwapAccountingLeavesMemswAlone) {
  proc_files(kHybridCgroup, kHybridMountinfo);
  std::vector<std::string> no_memsw = kV1MemoryFiles;
  std::erase(no_memsw, "memory.memsw.limit_in_bytes");
  memory_ = tree("memory", "/sprout.slice", no_memsw);
  tree("pids", "/sprout.slice", kV1PidsFiles);
  tree("cpu,cpuacct", "/sprout.slice", kV1CpuFiles);
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({.memory_bytes = 32 << 20});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const std::string leaf = (*lease)->dirs()[0];
  EXPECT_EQ(read_text(leaf + "/memory.limit_in_bytes"), "33554432");
  EXPECT_FALSE(fs::exists(leaf + "/memory.memsw.limit_in_bytes"));
}

TEST_F(CgroupDriverTest, V1AddProcessWritesThePidIntoEveryTree) {
  hybrid_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  EXPECT_TRUE((*lease)->is_empty());
  Child child;
  ASSERT_TRUE((*lease)->add_process(child.pid()).has_value());
  for (const auto& dir : (*lease)->dirs()) {
    EXPECT_EQ(read_text(dir + "/cgroup.procs"), std::to_string(child.pid())) << dir;
  }
  EXPECT_FALSE((*lease)->is_empty());
  // Populated in one tree only is still populated.
  for (size_t i = 0; i + 1 < (*lease)->dirs().size(); ++i)
    write_text((*lease)->dirs()[i] + "/cgroup.procs", "");
  EXPECT_FALSE((*lease)->is_empty());
  write_text((*lease)->dirs().back() + "/cgroup.procs", "");
  EXPECT_TRUE((*lease)->is_empty());
}

TEST_F(CgroupDriverTest, V1ResetsPeakAndCpuAndCountsOomKillsFromOomControl) {
  hybrid_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  const std::string memory_leaf = memory_ + "/" + pool_name() + "/sb-0";
  const std::string cpu_leaf = cpu_ + "/" + pool_name() + "/sb-0";
  write_text(memory_leaf + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  auto lease = pool->acquire({.memory_bytes = 64 << 20});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  EXPECT_EQ(read_text(memory_leaf + "/memory.max_usage_in_bytes"), "0");
  EXPECT_EQ(read_text(cpu_leaf + "/cpuacct.usage"), "0");

  write_text(memory_leaf + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
  write_text(memory_leaf + "/memory.max_usage_in_bytes", "2097152\n");
  write_text(cpu_leaf + "/cpuacct.usage", "3000000\n");  // nanoseconds
  CgroupUsage usage = (*lease)->read_usage();
  EXPECT_EQ(usage.oom_kills, 3u);
  EXPECT_EQ(usage.peak_memory_bytes, 2097152u);
  EXPECT_EQ(usage.cpu_time_us, 3000u);
  EXPECT_TRUE(usage.cpu_known);
}

TEST_F(CgroupDriverTest, V1WithoutCpuacctDoesNotKnowTheCpuTime) {
  proc_files("4:memory:/\n8:pids:/\n",
             "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
             "38 30 0:35 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n");
  tree("memory", "", kV1MemoryFiles);
  tree("pids", "", kV1PidsFiles);
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  EXPECT_FALSE(pool->layout().cpu);
  auto lease = pool->acquire({.memory_bytes = 64 << 20, .pids = 8, .cpu_millicores = 250});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  EXPECT_EQ((*lease)->dirs().size(), 2u);
  CgroupUsage usage = (*lease)->read_usage();
  EXPECT_FALSE(usage.cpu_known);
  EXPECT_EQ(usage.cpu_time_us, 0u);
}

TEST_F(CgroupDriverTest, V1KillAllSignalsTheListedProcesses) {
  hybrid_host();
  auto pool = make_pool();
  ASSERT_TRUE(pool);
  auto lease = pool->acquire({});
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  Child child;
  ASSERT_TRUE((*lease)->add_process(child.pid()).has_value());
  (*lease)->kill_all();
  EXPECT_EQ(child.wait_signal(), SIGKILL);
  clear_procs(*lease->get());
}

TEST_F(CgroupDriverTest, V1RemoveDeletesTheLeafInEveryTree) {
  hybrid_host();
  CgroupLayout layout = discover_cgroup_layout(host_);
  std::vector<std::string> parents;
  for (const auto& tree : layout.trees) {
    parents.push_back(tree.own_dir + "/parent");
    fake_.make_dir(parents.back());
  }
  auto leaf = SandboxCgroup::create(layout, parents, "fresh");
  ASSERT_TRUE(leaf.has_value()) << leaf.error().message();
  for (const auto& parent : parents) EXPECT_TRUE(fs::is_directory(parent + "/fresh"));
  ASSERT_TRUE((*leaf)->remove().has_value());
  for (const auto& parent : parents) EXPECT_FALSE(fs::exists(parent + "/fresh"));
}

TEST_F(CgroupDriverTest, CreateFailsAndUndoesWhenATreeRefusesTheLeaf) {
  hybrid_host();
  CgroupLayout layout = discover_cgroup_layout(host_);
  std::vector<std::string> parents = {memory_, pids_, cpu_ + "/missing"};
  auto leaf = SandboxCgroup::create(layout, parents, "half");
  ASSERT_FALSE(leaf.has_value());
  EXPECT_EQ(leaf.error().err, ENOENT);
  EXPECT_FALSE(fs::exists(memory_ + "/half"));
  EXPECT_FALSE(fs::exists(pids_ + "/half"));
}

// --- the pool's cleanup of crashed runs ---

class StaleRunTest : public CgroupDriverTest, public ::testing::WithParamInterface<bool> {};

TEST_P(StaleRunTest, RemovesOnlyTheDirectoriesOfPidsThatNoLongerRun) {
  const bool v2 = GetParam();
  std::vector<std::string> owns;
  if (v2) {
    owns = {v2_host()};
  } else {
    hybrid_host();
    owns = {memory_, pids_, cpu_};
  }
  Child alive;                                       // the owner of a live run
  Child inside;                                      // a process a crashed run left in its leaf
  const std::string dead = "sprout-test-999999999";  // above any pid_max
  const std::string live = "sprout-test-" + std::to_string(alive.pid());
  for (const auto& own : owns) {
    for (const auto& name : {dead, live, std::string("sprout-test-abc"), std::string("other-7")}) {
      ASSERT_EQ(fake_.make_dir(own + "/" + name), 0) << own << "/" << name;
      ASSERT_EQ(fake_.make_dir(own + "/" + name + "/sb-0"), 0);
    }
    write_text(own + "/" + dead + "/sb-0/cgroup.procs", std::to_string(inside.pid()) + "\n");
  }
  {
    auto pool = make_pool();
    ASSERT_TRUE(pool);
    EXPECT_EQ(pool->layout().version, v2 ? CgroupVersion::kV2 : CgroupVersion::kV1);
    for (const auto& own : owns) {
      EXPECT_FALSE(fs::exists(own + "/" + dead)) << own;
      EXPECT_TRUE(fs::is_directory(own + "/" + live + "/sb-0")) << own;
      EXPECT_TRUE(fs::is_directory(own + "/sprout-test-abc")) << own;
      EXPECT_TRUE(fs::is_directory(own + "/other-7")) << own;
      EXPECT_TRUE(fs::is_directory(own + "/" + pool_name() + "/sb-0")) << own;
    }
  }
  EXPECT_EQ(inside.wait_signal(), SIGKILL);
  for (const auto& own : owns) EXPECT_FALSE(fs::exists(own + "/" + pool_name())) << own;
}

INSTANTIATE_TEST_SUITE_P(CgroupVersions, StaleRunTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "V2" : "V1"; });

}  // namespace
}  // namespace sprout
