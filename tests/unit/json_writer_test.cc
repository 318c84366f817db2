// cli/json_writer: the CLI's JSON validation and output.
#include "cli/json_writer.h"

#include <gtest/gtest.h>

namespace sprout {
namespace {

TEST(Json, ValidatesAndEscapes) {
  using cli::is_valid_json;
  for (const char* good :
       {"{}", "[1, 2.5e3, -0.1]", R"({"a": [true, false, null], "b": "\u00e9\n"})", " 42 "}) {
    EXPECT_TRUE(is_valid_json(good)) << good;
  }
  for (const char* bad :
       {"", "{", "[1,]", "{'a': 1}", "01", "\"unterminated", "nul", "1 2", "\"\x01\""}) {
    EXPECT_FALSE(is_valid_json(bad)) << bad;
  }
  EXPECT_EQ(cli::json_string("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(cli::JsonObject().string("k", "v").number("n", 3).boolean("b", true).str(),
            R"({"k": "v", "n": 3, "b": true})");
}

}  // namespace
}  // namespace sprout
