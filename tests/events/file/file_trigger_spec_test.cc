// What a file trigger's definition must be: each refusal, and what is
// completed (the bucket from the directory's name).
#include "events/file/file_trigger_spec.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "events/source_id.h"

namespace sprout::events {
namespace {

class FileTriggerSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sprout-test-spec-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static api::FileTrigger spec(const std::string& watch, const std::string& bucket = "") {
    api::FileTrigger file;
    file.set_watch_dir(watch);
    file.set_bucket(bucket);
    return file;
  }
  // The refusal's message, or "" when accepted.
  static std::string refusal(const api::FileTrigger& file) {
    auto checked = validate_file_trigger(file);
    return checked ? "" : checked.error().message();
  }

  std::string dir_;
};

TEST_F(FileTriggerSpecTest, DefaultsTheBucketToTheLowerCasedBaseName) {
  const std::string watched = dir_ + "/Uploads.2024";
  ASSERT_EQ(mkdir(watched.c_str(), 0755), 0);
  auto checked = validate_file_trigger(spec(watched));
  ASSERT_TRUE(checked) << checked.error().message();
  EXPECT_EQ(checked->bucket(), "uploads.2024");
  EXPECT_EQ(checked->watch_dir(), watched);
  auto named = validate_file_trigger(spec(watched, "my-bucket"));
  ASSERT_TRUE(named);
  EXPECT_EQ(named->bucket(), "my-bucket");
}

TEST_F(FileTriggerSpecTest, RefusesDirectoriesThatAreNotCanonicalRealAndOurs) {
  const std::string watched = dir_ + "/inbox";
  ASSERT_EQ(mkdir(watched.c_str(), 0755), 0);
  EXPECT_NE(refusal(spec("")), "");
  EXPECT_NE(refusal(spec("relative/inbox", "bucket")).find("absolute"), std::string::npos);
  EXPECT_NE(refusal(spec(dir_ + "/missing", "bucket")).find("ENOENT"), std::string::npos);
  EXPECT_NE(refusal(spec(watched + "/", "bucket")).find("canonical"), std::string::npos);
  EXPECT_NE(refusal(spec(dir_ + "/./inbox", "bucket")).find("canonical"), std::string::npos);
  const std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(watched.c_str(), link.c_str()), 0);
  EXPECT_NE(refusal(spec(link, "bucket")).find("canonical"), std::string::npos);
  const std::string file = dir_ + "/file";
  std::ofstream(file) << "x";
  EXPECT_NE(refusal(spec(file, "bucket")).find("not a directory"), std::string::npos);
  EXPECT_NE(refusal(spec("/", "bucket")).find("root"), std::string::npos);
  EXPECT_NE(refusal(spec("/proc", "bucket")).find("/proc"), std::string::npos);
  EXPECT_NE(refusal(spec("/proc/self/fdinfo", "bucket")), "");
  EXPECT_NE(refusal(spec("/sys/kernel", "bucket")).find("/sys"), std::string::npos);
  EXPECT_NE(refusal(spec("/dev", "bucket")).find("/dev"), std::string::npos);
  EXPECT_EQ(refusal(spec(watched, "bucket")), "");
}

TEST_F(FileTriggerSpecTest, RefusesBucketNamesS3Refuses) {
  const std::string underscored = dir_ + "/My_Files";
  ASSERT_EQ(mkdir(underscored.c_str(), 0755), 0);
  EXPECT_NE(refusal(spec(underscored)).find("--bucket"), std::string::npos)
      << "a directory name that is no bucket name asks for one";
  EXPECT_EQ(refusal(spec(underscored, "my-files")), "");
  std::string why;
  for (const char* bad : {"ab", "Upper", "under_score", "-dash", "dot.", "a..b", "192.168.1.2",
                          "xn--punycode", "sthree-x", "name-s3alias", "x--ol-s3", "a/b", "..",
                          "with space"}) {
    EXPECT_FALSE(is_valid_bucket_name(bad, &why)) << bad;
    EXPECT_NE(refusal(spec(underscored, bad)), "") << bad;
  }
  EXPECT_FALSE(is_valid_bucket_name(std::string(64, 'a'), &why));
  for (const std::string& good :
       std::vector<std::string>{"abc", "my.bucket-1", "192.168.1", std::string(63, 'z')})
    EXPECT_TRUE(is_valid_bucket_name(good, &why)) << good << ": " << why;
}

TEST_F(FileTriggerSpecTest, RefusesFiltersNoKeyCanMatch) {
  api::FileTrigger file = spec(dir_, "bucket");
  file.set_prefix(std::string(1025, 'p'));
  EXPECT_NE(refusal(file).find("prefix"), std::string::npos);
  file.set_prefix("in/");
  file.set_suffix("\xff\xfe");
  EXPECT_NE(refusal(file).find("suffix"), std::string::npos);
  file.set_suffix(".csv");
  EXPECT_EQ(refusal(file), "");
}

TEST(TriggerIdTest, AcceptsOnlyTheDocumentedAlphabet) {
  EXPECT_TRUE(is_valid_source_id("a"));
  EXPECT_TRUE(is_valid_source_id("Upload_trigger-2"));
  EXPECT_TRUE(is_valid_source_id(std::string(64, 'x')));
  EXPECT_FALSE(is_valid_source_id(""));
  EXPECT_FALSE(is_valid_source_id(std::string(65, 'x')));
  EXPECT_FALSE(is_valid_source_id("a b"));
  EXPECT_FALSE(is_valid_source_id("a/b"));
  EXPECT_FALSE(is_valid_source_id("a.b"));
}

TEST(S3KeyTest, AcceptsUtf8KeysUpTo1024Bytes) {
  EXPECT_TRUE(is_valid_s3_key("a/b c.txt"));
  EXPECT_TRUE(is_valid_s3_key(std::string(1024, 'k')));
  EXPECT_FALSE(is_valid_s3_key(std::string(1025, 'k')));
  EXPECT_FALSE(is_valid_s3_key("latin1-\xe9.txt"));
  EXPECT_FALSE(is_valid_s3_key(""));
}

}  // namespace
}  // namespace sprout::events
