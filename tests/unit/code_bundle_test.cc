// agent/code_bundle: laying out a function's code (tar or single file)
// and refusing what would escape its directory.
#include "agent/code_bundle.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace sprout {
namespace {

// A ustar header for `name` with `size` bytes and `type`.
std::string tar_header(const std::string& name, size_t size, char type) {
  std::string block(512, '\0');
  memcpy(block.data(), name.data(), std::min<size_t>(name.size(), 100));
  snprintf(block.data() + 100, 8, "%07o", 0644);
  snprintf(block.data() + 124, 12, "%011zo", size);
  block[156] = type;
  memcpy(block.data() + 257, "ustar", 5);
  return block;
}

std::string tar_entry(const std::string& name, const std::string& data, char type = '0') {
  std::string out = tar_header(name, data.size(), type) + data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}

class CodeBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/sprout-test-bundle-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string read(const std::string& relative) {
    std::ifstream in(dir_ + "/" + relative);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string dir_;
};

TEST_F(CodeBundleTest, TarWithDirectoriesAndGnuLongNames) {
  const std::string long_name = "pkg/" + std::string(120, 'n') + ".py";
  std::string tar = tar_entry("./pkg/", "", '5') + tar_entry("./pkg/a.py", "A = 1\n") +
                    tar_entry("././@LongLink", long_name + std::string(1, '\0'), 'L') +
                    tar_entry("ignored", "long\n") + std::string(1024, '\0');
  auto laid = agent::lay_out_bundle(tar, agent::TAR, "", dir_);
  ASSERT_TRUE(laid.has_value()) << laid.error().message();
  EXPECT_EQ(read("pkg/a.py"), "A = 1\n");
  EXPECT_EQ(read(long_name), "long\n");
}

TEST_F(CodeBundleTest, RefusesEscapesLinksAndTruncation) {
  auto refused = [&](const std::string& tar) {
    auto laid = agent::lay_out_bundle(tar, agent::TAR, "", dir_);
    return laid ? std::string() : laid.error().message();
  };
  EXPECT_NE(refused(tar_entry("../evil.py", "x") + std::string(1024, '\0'))
                .find("escaping path: '../evil.py'"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("/etc/evil", "x") + std::string(1024, '\0')).find("escaping path"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("link", "", '2') + std::string(1024, '\0'))
                .find("unsupported tar entry type '2'"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("cut.py", std::string(2000, 'x')).substr(0, 1024))
                .find("runs past the end"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("nomarker.py", "x")).find("end-of-archive"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir_).parent_path() / "evil.py"));
}

TEST_F(CodeBundleTest, SingleFileMustBeAPlainName) {
  EXPECT_TRUE(agent::lay_out_bundle("print(1)\n", agent::SINGLE_FILE, "main.py", dir_).has_value());
  EXPECT_EQ(read("main.py"), "print(1)\n");
  EXPECT_FALSE(agent::lay_out_bundle("x", agent::SINGLE_FILE, "../main.py", dir_).has_value());
  EXPECT_FALSE(agent::lay_out_bundle("x", agent::SINGLE_FILE, "a/b.py", dir_).has_value());
}

}  // namespace
}  // namespace sprout
