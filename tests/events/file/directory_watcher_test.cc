// The recursive inotify watch on real directories: what it reports, what it
// never reports (symlinks, FIFOs, files beyond symlinked directories), how
// its watches follow directories made, moved and removed, and its bound.
#include "events/file/directory_watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>

namespace sprout::events {
namespace {

using Found = DirectoryWatcher::Found;

class DirectoryWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sprout-test-watch-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    base_ = dir;
    root_ = base_ + "/root";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
  }
  void TearDown() override {
    watcher_.reset();
    std::filesystem::remove_all(base_);
  }

  void open_watcher(size_t max_directories = 1000) {
    DirectoryWatcher::Callbacks callbacks{
        .file = [this](const std::string& key, Found how) {
          files_.insert(key);
          if (how == Found::kEvent) events_.insert(key);
        },
        .removed = [this](const std::string& key, bool directory) {
          removed_.insert(key + (directory ? "/" : ""));
        },
    };
    auto watcher = DirectoryWatcher::open(root_, {.max_directories = max_directories}, callbacks);
    ASSERT_TRUE(watcher) << watcher.error().message();
    watcher_ = std::move(*watcher);
  }

  // Handles events until `done` holds (or 20 s pass).
  bool pump_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd fd{.fd = watcher_->fd(), .events = POLLIN, .revents = 0};
      if (poll(&fd, 1, 100) > 0) {
        auto processed = watcher_->process_events();
        if (!processed) return false;
      }
    }
    return true;
  }

  void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path);
    out << content;
  }

  std::string base_;
  std::string root_;
  std::unique_ptr<DirectoryWatcher> watcher_;
  std::set<std::string> files_;
  std::set<std::string> events_;
  std::set<std::string> removed_;
};

TEST_F(DirectoryWatcherTest, ScanReportsRegularFilesOnlyAndNeverFollowsSymlinks) {
  std::filesystem::create_directories(root_ + "/a/b");
  std::filesystem::create_directories(base_ + "/outside");
  write_file(root_ + "/top.txt", "1");
  write_file(root_ + "/a/b/deep.txt", "2");
  write_file(base_ + "/outside/secret", "s");
  ASSERT_EQ(symlink((base_ + "/outside/secret").c_str(), (root_ + "/link-to-file").c_str()), 0);
  ASSERT_EQ(symlink((base_ + "/outside").c_str(), (root_ + "/link-to-dir").c_str()), 0);
  ASSERT_EQ(mkfifo((root_ + "/fifo").c_str(), 0644), 0);
  open_watcher();
  ASSERT_TRUE(watcher_->rescan());
  EXPECT_EQ(files_, (std::set<std::string>{"top.txt", "a/b/deep.txt"}));
  EXPECT_EQ(watcher_->watched_directories(), 3u);  // root, a, a/b
  EXPECT_TRUE(events_.empty());
  // open_beneath refuses what is not a regular file inside the tree.
  EXPECT_TRUE(watcher_->open_beneath("top.txt"));
  EXPECT_FALSE(watcher_->open_beneath("link-to-file"));
  EXPECT_FALSE(watcher_->open_beneath("link-to-dir/secret"));
  EXPECT_FALSE(watcher_->open_beneath("fifo"));
  EXPECT_FALSE(watcher_->open_beneath("../outside/secret"));
  EXPECT_FALSE(watcher_->open_beneath("a"));
}

TEST_F(DirectoryWatcherTest, ReportsFilesClosedOrMovedInAndScansNewDirectories) {
  open_watcher();
  ASSERT_TRUE(watcher_->rescan());
  write_file(root_ + "/written.txt", "w");
  write_file(base_ + "/staged.txt", "m");
  std::filesystem::rename(base_ + "/staged.txt", root_ + "/moved.txt");
  // Made together with its parents faster than their watches can be added:
  // the scan of each new directory finds what the events could not.
  std::filesystem::create_directories(root_ + "/x/y/z");
  write_file(root_ + "/x/y/z/quick.txt", "q");
  std::filesystem::create_directories(base_ + "/tree/sub");
  write_file(base_ + "/tree/sub/inside.txt", "i");
  std::filesystem::rename(base_ + "/tree", root_ + "/tree");
  ASSERT_TRUE(pump_until([&] {
    return files_.size() == 4;
  })) << "seen: " << files_.size();
  EXPECT_EQ(files_, (std::set<std::string>{"written.txt", "moved.txt", "x/y/z/quick.txt",
                                           "tree/sub/inside.txt"}));
  EXPECT_TRUE(events_.contains("written.txt"));
  EXPECT_TRUE(events_.contains("moved.txt"));
  EXPECT_EQ(watcher_->watched_directories(), 6u);  // root, x, x/y, x/y/z, tree, tree/sub
}

TEST_F(DirectoryWatcherTest, DropsWatchesOfDirectoriesRemovedOrMovedAway) {
  std::filesystem::create_directories(root_ + "/gone/inner");
  std::filesystem::create_directories(root_ + "/away/inner");
  std::filesystem::create_directories(root_ + "/gone0");  // sorts right after "gone/"
  open_watcher();
  ASSERT_TRUE(watcher_->rescan());
  ASSERT_EQ(watcher_->watched_directories(), 6u);
  std::filesystem::remove_all(root_ + "/gone");
  std::filesystem::rename(root_ + "/away", base_ + "/away");
  ASSERT_TRUE(pump_until([&] { return removed_.contains("gone/") && removed_.contains("away/"); }));
  ASSERT_TRUE(pump_until([&] { return watcher_->watched_directories() == 2u; }))
      << watcher_->watched_directories();
  // Files made in the directory moved away are not ours any more.
  write_file(base_ + "/away/inner/late.txt", "l");
  write_file(root_ + "/gone0/kept.txt", "k");
  ASSERT_TRUE(pump_until([&] { return files_.contains("gone0/kept.txt"); }));
  EXPECT_FALSE(files_.contains("away/inner/late.txt"));
  EXPECT_EQ(files_.size(), 1u);
}

// What an inotify queue overflow leads to: a rescan while the events about
// the tree's changes are still unread; the watches must end up right.
TEST_F(DirectoryWatcherTest, ARescanReconcilesWatchesWithTheTreeAsItIsNow) {
  std::filesystem::create_directories(root_ + "/a/inner");
  std::filesystem::create_directories(root_ + "/doomed");
  open_watcher();
  ASSERT_TRUE(watcher_->rescan());
  ASSERT_EQ(watcher_->watched_directories(), 4u);
  std::filesystem::rename(root_ + "/a", root_ + "/b");
  std::filesystem::remove_all(root_ + "/doomed");
  write_file(root_ + "/b/inner/file.txt", "f");
  files_.clear();
  ASSERT_TRUE(watcher_->rescan());
  EXPECT_EQ(files_, (std::set<std::string>{"b/inner/file.txt"}));
  EXPECT_EQ(watcher_->watched_directories(), 3u);  // root, b, b/inner
  // The stale events, read now, leave the same watches.
  ASSERT_TRUE(pump_until([&] { return removed_.contains("a/") && removed_.contains("doomed/"); }));
  EXPECT_EQ(watcher_->watched_directories(), 3u);
  // And the renamed directories' watches still report under the new names.
  files_.clear();
  write_file(root_ + "/b/inner/later.txt", "l");
  ASSERT_TRUE(pump_until([&] { return files_.contains("b/inner/later.txt"); }));
}

TEST_F(DirectoryWatcherTest, StopsAtItsDirectoryBound) {
  for (int i = 0; i < 5; ++i) std::filesystem::create_directories(root_ + "/d" + std::to_string(i));
  open_watcher(3);
  ASSERT_TRUE(watcher_->rescan());
  EXPECT_EQ(watcher_->watched_directories(), 3u);
  EXPECT_TRUE(watcher_->over_limit());
}

TEST_F(DirectoryWatcherTest, NoticesTheRootGoing) {
  open_watcher();
  ASSERT_TRUE(watcher_->rescan());
  EXPECT_FALSE(watcher_->root_gone());
  std::filesystem::rename(root_, base_ + "/renamed");
  EXPECT_TRUE(pump_until([&] { return watcher_->root_gone(); }));
}

TEST_F(DirectoryWatcherTest, RefusesARootReachedThroughASymlinkAnywhereInItsPath) {
  // O_NOFOLLOW refuses a symlink only as the last component; "link/root"
  // must be refused as well.
  ASSERT_EQ(symlink(".", (base_ + "/link").c_str()), 0);
  auto watcher = DirectoryWatcher::open(base_ + "/link/root", {}, {});
  ASSERT_FALSE(watcher);
  EXPECT_NE(watcher.error().message().find("symlink"), std::string::npos) << watcher.error().message();
}

TEST_F(DirectoryWatcherTest, WatchesTheDirectoriesOpenedNeverWhereTheirPathLeadsLater) {
  // The attack: a directory above the root swapped for a symlink to another
  // tree, whose same-named subdirectory then got watched by path.
  std::filesystem::create_directories(base_ + "/a/x/inbox");
  std::filesystem::create_directories(base_ + "/b/x/inbox/sub");
  root_ = base_ + "/a/x/inbox";
  open_watcher();
  ASSERT_TRUE(watcher_->rescan());
  EXPECT_TRUE(watcher_->still_at_its_path());
  std::filesystem::rename(base_ + "/a/x", base_ + "/a/x-real");
  ASSERT_EQ(symlink("../b/x", (base_ + "/a/x").c_str()), 0);
  EXPECT_FALSE(watcher_->still_at_its_path());
  // A subdirectory made in the watched tree: its watch must be of it, not of
  // b/x/inbox/sub, which the root's path now names.
  std::filesystem::create_directories(base_ + "/a/x-real/inbox/sub");
  write_file(base_ + "/a/x-real/inbox/sub/ours.txt", "ours");
  ASSERT_TRUE(pump_until([&] { return files_.contains("sub/ours.txt"); }));
  write_file(base_ + "/b/x/inbox/sub/secret.txt", "not ours");
  write_file(base_ + "/a/x-real/inbox/sub/after.txt", "ours");
  ASSERT_TRUE(pump_until([&] { return files_.contains("sub/after.txt"); }));
  EXPECT_FALSE(files_.contains("sub/secret.txt"));
}

}  // namespace
}  // namespace sprout::events
