// Host ids for zygotes and function snapshots: the allocator (HostIdRange,
// HostIdLease) and sproutd's start-up check that no account of the host uses
// an id of the configured range. No root, no processes.
#include "snapshot/host_ids.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "supervisor/config.h"

namespace sprout {
namespace {

HostIdRange make_range(uint32_t first, uint32_t count) {
  auto range = HostIdRange::create(first, count);
  EXPECT_TRUE(range.has_value()) << range.error().message();
  return std::move(*range);
}

TEST(HostIdRange, HandsOutDistinctIdsOfTheRangeAsUidAndGid) {
  HostIdRange range = make_range(3000000000u, 64);
  EXPECT_EQ(range.first(), 3000000000u);
  EXPECT_EQ(range.count(), 64u);
  std::vector<HostIdLease> leases;
  std::set<uid_t> seen;
  for (int i = 0; i < 64; ++i) {
    auto lease = range.acquire();
    ASSERT_TRUE(lease.has_value()) << lease.error().message();
    EXPECT_TRUE(static_cast<bool>(*lease));
    EXPECT_GE(lease->uid(), 3000000000u);
    EXPECT_LT(lease->uid(), 3000000064u);
    EXPECT_EQ(lease->gid(), lease->uid());
    EXPECT_TRUE(seen.insert(lease->uid()).second) << "id " << lease->uid() << " handed out twice";
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(range.in_use(), 64u);
}

TEST(HostIdRange, ExhaustionIsAClearError) {
  HostIdRange range = make_range(100000, 2);
  std::optional<HostIdLease> a(std::move(*range.acquire()));
  auto b = range.acquire();
  ASSERT_TRUE(b.has_value());
  auto c = range.acquire();
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("all 2 ids of the range are in use"), std::string::npos)
      << c.error().message();
  a.reset();  // gives 100000 back
  EXPECT_EQ(range.in_use(), 1u);
  auto d = range.acquire();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->uid(), 100000u);
}

TEST(HostIdRange, ReleasedIdsAreReusedRoundRobinLastReleasedLast) {
  HostIdRange range = make_range(1000, 4);
  std::optional<HostIdLease> a(*range.acquire()), b(*range.acquire());
  EXPECT_EQ(a->uid(), 1000u);
  EXPECT_EQ(b->uid(), 1001u);
  a.reset();  // 1000 goes back, but is not the next one taken
  EXPECT_EQ(range.in_use(), 1u);
  auto c = range.acquire(), d = range.acquire(), e = range.acquire();
  ASSERT_TRUE(c && d && e);
  EXPECT_EQ(c->uid(), 1002u);
  EXPECT_EQ(d->uid(), 1003u);
  EXPECT_EQ(e->uid(), 1000u) << "wraps round to the free id";
  EXPECT_FALSE(range.acquire().has_value()) << "1001 (b) is still held";
  b.reset();  // 1001 back
  auto f = range.acquire();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->uid(), 1001u);
}

TEST(HostIdRange, MovingALeaseMovesTheIdWithoutGivingItBack) {
  HostIdRange range = make_range(5000, 3);
  HostIdLease first = std::move(*range.acquire());
  const uid_t id = first.uid();
  HostIdLease moved(std::move(first));
  EXPECT_FALSE(static_cast<bool>(first));  // NOLINT(bugprone-use-after-move): testing it
  EXPECT_TRUE(static_cast<bool>(moved));
  EXPECT_EQ(moved.uid(), id);
  { HostIdLease destroyed_empty = std::move(first); }  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(range.in_use(), 1u) << "an empty lease gives nothing back";

  HostIdLease other = std::move(*range.acquire());
  EXPECT_EQ(range.in_use(), 2u);
  other = std::move(moved);  // `other`'s own id goes back; `moved`'s is kept
  EXPECT_EQ(range.in_use(), 1u);
  EXPECT_EQ(other.uid(), id);
  HostIdLease empty;
  EXPECT_FALSE(static_cast<bool>(empty));
  other = std::move(empty);
  EXPECT_EQ(range.in_use(), 0u);
}

TEST(HostIdRange, ALeaseMayOutliveItsRange) {
  std::optional<HostIdLease> lease;
  {
    HostIdRange range = make_range(7000, 1);
    lease.emplace(std::move(*range.acquire()));
  }
  EXPECT_EQ(lease->uid(), 7000u);
  lease.reset();  // gives the id back to state the lease still shares: no crash
}

TEST(HostIdRange, RefusesBadRanges) {
  EXPECT_FALSE(HostIdRange::create(1000, 0).has_value()) << "empty";
  EXPECT_FALSE(HostIdRange::create(0, 10).has_value()) << "root";
  EXPECT_FALSE(HostIdRange::create(65000, 1000).has_value()) << "holds nobody (65534)";
  EXPECT_FALSE(HostIdRange::create(65534, 1).has_value()) << "is nobody";
  EXPECT_FALSE(HostIdRange::create(0xffffff00u, 0x200).has_value()) << "wraps past 2^32";
  EXPECT_FALSE(HostIdRange::create(0xfffffff0u, 16).has_value()) << "holds (uid_t)-1";
  EXPECT_TRUE(HostIdRange::create(0xfffffff0u, 15).has_value()) << "ends at 2^32 - 2";
  EXPECT_TRUE(HostIdRange::create(65535, 10).has_value()) << "just above nobody";
  EXPECT_TRUE(HostIdRange::create(1, 65533).has_value()) << "just below nobody";
}

TEST(HostIdRange, ConcurrentAcquireAndReleaseNeverShareAnId) {
  constexpr uint32_t kIds = 16;
  constexpr int kThreads = 8, kRounds = 5000;
  HostIdRange range = make_range(200000, kIds);
  std::vector<std::atomic<int>> holders(kIds);
  std::atomic<int> shared{0}, exhausted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < kRounds; ++round) {
        std::vector<HostIdLease> held;
        for (int i = 0; i < 3; ++i) {  // 8 threads x 3 > 16 ids: exhaustion happens too
          auto lease = range.acquire();
          if (!lease) {
            ++exhausted;
            continue;
          }
          if (holders[lease->uid() - 200000].fetch_add(1) != 0) ++shared;
          held.push_back(std::move(*lease));
        }
        for (auto& lease : held) holders[lease.uid() - 200000].fetch_sub(1);
      }  // `held` destroyed: the ids go back
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(shared.load(), 0) << "an id was held by two leases at once";
  EXPECT_EQ(range.in_use(), 0u);
  EXPECT_LE(exhausted.load(), kThreads * kRounds * 3);
}

// sproutd's start-up check: the range must not hold an id of an account.
class HostIdConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sprout-host-ids-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    write("passwd",
          "root:x:0:0:root:/root:/bin/bash\n"
          "# a comment:x:3000000001:3000000001\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
          "broken line without fields\n"
          "alice:x:1000:1000::/home/alice:/bin/sh\n");
    write("group", "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  void append(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::app) << text;
  }
  Result<HostIdRange> check(uint32_t first, uint32_t count) {
    supervisor::DaemonConfig config;
    config.set_host_id_first(first);
    config.set_host_id_count(count);
    return supervisor::host_id_range_of(config, dir_ / "passwd", dir_ / "group");
  }

  std::filesystem::path dir_;
};

TEST_F(HostIdConfigTest, AcceptsARangeNoAccountUses) {
  auto range = check(3000000000u, 65536);
  ASSERT_TRUE(range.has_value()) << range.error().message();
  EXPECT_EQ(range->first(), 3000000000u);
  EXPECT_EQ(range->count(), 65536u);
}

TEST_F(HostIdConfigTest, RefusesARangeHoldingAUidAndNamesTheAccount) {
  append("passwd", "intruder:x:3000000005:100::/:/bin/sh\n");
  auto range = check(3000000000u, 65536);
  ASSERT_FALSE(range.has_value());
  const std::string message = range.error().message();
  EXPECT_NE(message.find("uid 3000000005 of 'intruder'"), std::string::npos) << message;
  EXPECT_NE(message.find("host_id_first 3000000000, host_id_count 65536"), std::string::npos)
      << message;
}

TEST_F(HostIdConfigTest, RefusesAPrimaryGidOfPasswdAndAGidOfGroup) {
  append("passwd", "svc:x:500:3000000100::/:/bin/sh\n");
  auto by_passwd = check(3000000000u, 65536);
  ASSERT_FALSE(by_passwd.has_value());
  EXPECT_NE(by_passwd.error().message().find("gid 3000000100 of 'svc'"), std::string::npos)
      << by_passwd.error().message();

  write("passwd", "root:x:0:0:root:/root:/bin/bash\n");
  append("group", "team:x:3000065535:alice\n");
  auto by_group = check(3000000000u, 65536);
  ASSERT_FALSE(by_group.has_value());
  EXPECT_NE(by_group.error().message().find("gid 3000065535 of 'team'"), std::string::npos)
      << by_group.error().message();
  EXPECT_TRUE(check(3000000000u, 65535).has_value()) << "the range now ends just below it";
  EXPECT_TRUE(check(3000065536u, 10).has_value()) << "or starts just above it";
}

TEST_F(HostIdConfigTest, RefusesMalformedRangesAndUnreadableFiles) {
  auto nobody = check(60000, 10000);
  ASSERT_FALSE(nobody.has_value());
  EXPECT_NE(nobody.error().message().find("65534"), std::string::npos) << nobody.error().message();
  EXPECT_FALSE(check(0xffffff00u, 0x1000).has_value());
  std::filesystem::remove(dir_ / "group");
  auto unreadable = check(3000000000u, 65536);
  ASSERT_FALSE(unreadable.has_value());
  EXPECT_NE(unreadable.error().message().find("cannot read"), std::string::npos)
      << unreadable.error().message();
}

TEST(HostIdConfig, TheDefaultRangeIsFreeOnThisHost) {
  supervisor::DaemonConfig config;
  supervisor::apply_config_defaults(config);
  auto range = supervisor::host_id_range_of(config);
  EXPECT_TRUE(range.has_value()) << range.error().message();
}

}  // namespace
}  // namespace sprout
