// http/function_name: the FunctionName forms of Lambda's Invoke API.
#include "http/function_name.h"

#include <gtest/gtest.h>

namespace sprout::http {
namespace {

TEST(FunctionName, EveryFormLambdaAccepts) {
  struct Case {
    const char* name;
    const char* query_qualifier;
    const char* expected_name;
    const char* expected_qualifier;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"hello", "", "hello", ""},
           {"hello:3", "", "hello", "3"},
           {"hello", "$LATEST", "hello", "$LATEST"},
           {"hello:prod", "prod", "hello", "prod"},
           {"arn:aws:lambda:us-east-1:123456789012:function:hello", "", "hello", ""},
           {"arn:aws:lambda:eu-west-3:123456789012:function:my_fn-2:$LATEST", "", "my_fn-2",
            "$LATEST"},
           {"arn:aws-cn:lambda:cn-north-1:123456789012:function:hello:7", "7", "hello", "7"},
           {"123456789012:function:hello", "", "hello", ""},
           {"123456789012:function:hello:2", "", "hello", "2"}}) {
    auto ref = parse_function_reference(c.name, c.query_qualifier);
    EXPECT_EQ(ref.error, "") << c.name;
    EXPECT_EQ(ref.name, c.expected_name) << c.name;
    EXPECT_EQ(ref.qualifier, c.expected_qualifier) << c.name;
  }
}

TEST(FunctionName, MalformedNamesAndConflictingQualifiers) {
  for (const char* bad :
       {"", "hello:", "a:b:c", "../etc", "hello world", "arn:aws:s3:us-east-1:123456789012:function:x",
        "arn:aws:lambda:us-east-1:1234:function:x", "arn:aws:lambda:us-east-1:123456789012:layer:x",
        "arn:aws:lambda:us-east-1:123456789012:function:x:1:2", "12345678901x:function:x",
        "hello:bad qualifier"}) {
    EXPECT_NE(parse_function_reference(bad, "").error, "") << bad;
  }
  auto conflict = parse_function_reference("hello:1", "2");
  EXPECT_NE(conflict.error.find("does not match"), std::string::npos) << conflict.error;
  EXPECT_NE(parse_function_reference("hello", "a b").error, "");
  EXPECT_NE(parse_function_reference(std::string(65, 'x'), "").error, "") << "over 64";
}

TEST(FunctionName, ArnOfAFunction) {
  EXPECT_EQ(function_arn("us-east-1", "hello"),
            "arn:aws:lambda:us-east-1:000000000000:function:hello");
  EXPECT_EQ(function_arn("eu-west-1", "hello", "4"),
            "arn:aws:lambda:eu-west-1:000000000000:function:hello:4");
}

}  // namespace
}  // namespace sprout::http
