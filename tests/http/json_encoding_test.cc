// http/json and http/encoding: the strict JSON reader (Lambda refuses an
// Invoke body that is not JSON), the writer's escaping, base64 and
// percent-encoding.
#include <gtest/gtest.h>

#include "http/encoding.h"
#include "http/json.h"

namespace sprout::http {
namespace {

TEST(Json, AcceptsJsonAndOnlyJson) {
  for (const char* good : {"null", "true", " {} ", "[]", "0", "-1.5e+3", R"("\u00e9\ud83d\ude00")",
                           R"({"a": [1, {"b": null}], "c": "\n"})", "\"h\xc3\xa9\""}) {
    std::string error;
    EXPECT_TRUE(parse_json(good, &error).has_value()) << good << ": " << error;
  }
  for (const char* bad : {"", "{", "{'a': 1}", "[1,]", "01", "1.", "+1", "NaN", "tru", "\"\\x\"",
                          "{\"a\" 1}", "[1] 2", "\"\xff\"", R"("\ud800")", "\"a\nb\""}) {
    EXPECT_FALSE(parse_json(bad).has_value()) << bad;
  }
  const std::string deep(kMaxJsonDepth + 10, '[');
  std::string error;
  EXPECT_FALSE(parse_json(deep + std::string(kMaxJsonDepth + 10, ']'), &error).has_value());
  EXPECT_NE(error.find("nested deeper"), std::string::npos) << error;
}

TEST(Json, ReadsValuesAndWritesThemBack) {
  auto value = parse_json(R"({"n": 201, "f": 2.5, "s": "x\"y", "a": [true, null], "n": 7})");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->find("n")->as_integer(), 7) << "the last duplicate wins";
  EXPECT_FALSE(value->find("f")->as_integer().has_value());
  EXPECT_EQ(value->find("s")->as_string(), "x\"y");
  EXPECT_EQ(value->find("missing"), nullptr);
  EXPECT_EQ(parse_json(value->dump())->dump(), value->dump());
  EXPECT_EQ(json_quote("a\"\\\n\x01"), R"("a\"\\\n\u0001")");
  EXPECT_EQ(json_quote("\xff"), R"("\ufffd")") << "always valid JSON";
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf")) << "overlong";
}

TEST(Encoding, Base64AndPercent) {
  for (const std::string& bytes :
       {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
        std::string("\x00\xff\x10", 3)}) {
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  }
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_FALSE(base64_decode("Zm9").has_value());
  EXPECT_FALSE(base64_decode("Zm=v").has_value());
  EXPECT_FALSE(base64_decode("Zm9v\nYg==").has_value());
  EXPECT_EQ(percent_decode("a%20b%3a%zz%"), "a b:%zz%");
  EXPECT_EQ(percent_decode("a+b"), "a+b") << "+ is no space outside forms";
  EXPECT_EQ(percent_encode("a b/~:", false), "a%20b%2F~%3A");
  EXPECT_EQ(percent_encode("a b/~:", true), "a%20b/~%3A");
  auto pairs = split_query("a=1&&b&c=x=y");
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[1], (std::pair<std::string, std::string>("b", "")));
  EXPECT_EQ(pairs[2], (std::pair<std::string, std::string>("c", "x=y")));
}

}  // namespace
}  // namespace sprout::http
