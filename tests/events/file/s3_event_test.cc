// The S3 ObjectCreated:Put record: its shape as S3 sends it, the key
// encoding as a Python handler decodes it (urllib.parse.unquote_plus, run for
// real), the eTag (MD5) and the sequencer's order.
#include "events/file/s3_event.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "http/json.h"

namespace sprout::events {
namespace {

const http::JsonValue& at(const http::JsonValue& value, std::string_view key) {
  const http::JsonValue* member = value.find(key);
  static const http::JsonValue null_value;
  EXPECT_NE(member, nullptr) << "missing member " << key;
  return member ? *member : null_value;
}

TEST(S3EventTest, RecordHasTheShapeS3Sends) {
  const S3ObjectCreated object{
      .region = "eu-west-1",
      .principal_id = "owner-1",
      .configuration_id = "trigger-7",
      .bucket = "photos",
      .key = "2024/a b.jpg",
      .size = 12345,
      .etag = "0123456789abcdef0123456789abcdef",
      .sequencer = "00000000000000FF",
      .event_time_unix_ms = 1714566896789,
  };
  const std::string text = s3_put_event_json(object);
  std::string error;
  const auto parsed = http::parse_json(text, &error);
  ASSERT_TRUE(parsed) << error << "\n" << text;
  const auto& records = at(*parsed, "Records");
  ASSERT_TRUE(records.is_array());
  ASSERT_EQ(records.items().size(), 1u);
  const auto& record = records.items()[0];
  EXPECT_EQ(at(record, "eventVersion").as_string(), "2.1");
  EXPECT_EQ(at(record, "eventSource").as_string(), "aws:s3");
  EXPECT_EQ(at(record, "awsRegion").as_string(), "eu-west-1");
  EXPECT_EQ(at(record, "eventTime").as_string(), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(at(record, "eventName").as_string(), "ObjectCreated:Put");
  EXPECT_EQ(at(at(record, "userIdentity"), "principalId").as_string(), "owner-1");
  EXPECT_EQ(at(at(record, "requestParameters"), "sourceIPAddress").as_string(), "127.0.0.1");
  const auto& response = at(record, "responseElements");
  EXPECT_EQ(at(response, "x-amz-request-id").as_string().size(), 16u);
  EXPECT_FALSE(at(response, "x-amz-id-2").as_string().empty());
  const auto& s3 = at(record, "s3");
  EXPECT_EQ(at(s3, "s3SchemaVersion").as_string(), "1.0");
  EXPECT_EQ(at(s3, "configurationId").as_string(), "trigger-7");
  const auto& bucket = at(s3, "bucket");
  EXPECT_EQ(at(bucket, "name").as_string(), "photos");
  EXPECT_EQ(at(at(bucket, "ownerIdentity"), "principalId").as_string(), "owner-1");
  EXPECT_EQ(at(bucket, "arn").as_string(), "arn:aws:s3:::photos");
  const auto& s3_object = at(s3, "object");
  EXPECT_EQ(at(s3_object, "key").as_string(), "2024/a+b.jpg");
  ASSERT_TRUE(at(s3_object, "size").is_number()) << "S3 sends the size as a number";
  EXPECT_EQ(at(s3_object, "size").as_integer(), 12345);
  EXPECT_EQ(at(s3_object, "eTag").as_string(), object.etag);
  EXPECT_EQ(at(s3_object, "sequencer").as_string(), "00000000000000FF");
  // Two records of one object differ in their request ids.
  const auto again = http::parse_json(s3_put_event_json(object));
  ASSERT_TRUE(again);
  const auto& again_records = at(*again, "Records");
  ASSERT_EQ(again_records.items().size(), 1u);
  EXPECT_NE(at(at(again_records.items()[0], "responseElements"), "x-amz-request-id").as_string(),
            at(response, "x-amz-request-id").as_string());
}

TEST(S3EventTest, EncodesKeysAsS3Does) {
  EXPECT_EQ(s3_encode_key("plain/Key-1_2.3~x"), "plain/Key-1_2.3~x");
  EXPECT_EQ(s3_encode_key("a b"), "a+b");
  EXPECT_EQ(s3_encode_key("a+b"), "a%2Bb");
  EXPECT_EQ(s3_encode_key("100%"), "100%25");
  EXPECT_EQ(s3_encode_key("x#y?z&w=v"), "x%23y%3Fz%26w%3Dv");
  EXPECT_EQ(s3_encode_key("caf\xc3\xa9"), "caf%C3%A9");
  EXPECT_EQ(s3_encode_key("*:@!$'(),;"), "%2A%3A%40%21%24%27%28%29%2C%3B");
}

// Runs python3's unquote_plus over each encoded key (one per line) and
// answers the decoded keys, hex-encoded so that any byte survives the pipe.
std::vector<std::string> python_unquote_plus(const std::vector<std::string>& encoded) {
  char dir[] = "/tmp/sprout-test-s3key-XXXXXX";
  if (!mkdtemp(dir)) return {};
  const std::string input = std::string(dir) + "/in";
  {
    std::ofstream out(input);
    for (const std::string& key : encoded) out << key << "\n";
  }
  const std::string command =
      "python3 -c 'import sys, urllib.parse\n"
      "for line in open(sys.argv[1]):\n"
      "    print(urllib.parse.unquote_plus(line.rstrip(\"\\n\")).encode(\"utf-8\").hex())' " +
      input;
  std::vector<std::string> decoded;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe) {
    std::array<char, 8192> line{};
    while (fgets(line.data(), line.size(), pipe)) {
      std::string hex(line.data());
      while (!hex.empty() && hex.back() == '\n') hex.pop_back();
      std::string bytes;
      for (size_t i = 0; i + 1 < hex.size(); i += 2)
        bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
      decoded.push_back(bytes);
    }
    (void)pclose(pipe);  // reaps python3
  }
  std::filesystem::remove_all(dir);
  return decoded;
}

TEST(S3EventTest, PythonUnquotePlusGivesEveryKeyBack) {
  if (system("python3 -c 'import urllib.parse' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  const std::vector<std::string> keys = {
      "plain.txt",       "dir/sub dir/with space.csv", "a+b+c",           "100% done",
      "hash#tag",        "q?x=1&y=2",                  "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt",
      "emoji \xf0\x9f\x98\x80", "%2B literally",        "tab\there",       "~tilde_under-dash.",
      "semi;colon,comma'quote\"dq\\bs"};
  std::vector<std::string> encoded;
  for (const std::string& key : keys) encoded.push_back(s3_encode_key(key));
  for (const std::string& text : encoded)
    for (const char c : text) ASSERT_TRUE(c > ' ' && c < 0x7f) << "encoded keys are printable ASCII: " << text;
  EXPECT_EQ(python_unquote_plus(encoded), keys);
}

TEST(S3EventTest, FormatsTimesWithMilliseconds) {
  EXPECT_EQ(iso8601_utc_millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc_millis(1714566896007), "2024-05-01T12:34:56.007Z");
  EXPECT_EQ(iso8601_utc_millis(-1), "1969-12-31T23:59:59.999Z");
}

TEST(S3EventTest, SequencersIncreaseAsEqualLengthHex) {
  std::string previous = next_s3_sequencer();
  for (int i = 0; i < 1000; ++i) {
    const std::string next = next_s3_sequencer();
    ASSERT_EQ(next.size(), 16u);
    ASSERT_EQ(next.find_first_not_of("0123456789ABCDEF"), std::string::npos) << next;
    ASSERT_GT(next, previous);
    previous = next;
  }
}

TEST(S3EventTest, DigestIsTheMd5OfTheWholeContent) {
  char dir[] = "/tmp/sprout-test-md5-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/f";
  {
    std::ofstream(path) << "hello";
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  auto digest = md5_of_fd(fd.get());
  ASSERT_TRUE(digest) << digest.error().message();
  EXPECT_EQ(digest->md5_hex, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(digest->size, 5u);
  {
    std::ofstream out(path, std::ios::trunc);
  }
  UniqueFd empty(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto empty_digest = md5_of_fd(empty.get());
  ASSERT_TRUE(empty_digest);
  EXPECT_EQ(empty_digest->md5_hex, "d41d8cd98f00b204e9800998ecf8427e");  // S3's eTag of an empty object
  EXPECT_EQ(empty_digest->size, 0u);
  std::filesystem::remove_all(dir);
}

TEST(S3EventTest, DigestStopsWhenAsked) {
  UniqueFd zeros(::open("/dev/zero", O_RDONLY | O_CLOEXEC));  // endless: only the stop ends it
  ASSERT_TRUE(zeros);
  const std::atomic<bool> stop{true};
  EXPECT_FALSE(md5_of_fd(zeros.get(), &stop));
}

TEST(S3EventTest, UnhashedETagsAreMultipartShapedAndFollowTheVersion) {
  const std::string etag = s3_unhashed_etag(1, 2, 3);
  EXPECT_EQ(etag.size(), 34u);
  EXPECT_TRUE(etag.ends_with("-1")) << etag;
  EXPECT_EQ(etag, s3_unhashed_etag(1, 2, 3));
  EXPECT_NE(etag, s3_unhashed_etag(1, 2, 4));
  EXPECT_NE(etag, s3_unhashed_etag(1, 3, 3));
  EXPECT_NE(etag, s3_unhashed_etag(2, 2, 3));
}

}  // namespace
}  // namespace sprout::events
