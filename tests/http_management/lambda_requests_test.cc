// http/management: Lambda's management request bodies into FunctionSpecs,
// FunctionSpecs back into Lambda's FunctionConfiguration, and the AWS error
// shape. Pure: no daemon.
#include <gtest/gtest.h>

#include "http/encoding.h"
#include "http/json.h"
#include "http/management/lambda_configuration.h"
#include "http/management/lambda_management.h"
#include "http/management/lambda_requests.h"

namespace sprout::http {
namespace {

const std::string kZipBytes = std::string("PK\x03\x04", 4) + "rest of a zip";

std::string create_body(const std::string& extra = "") {
  return R"({"FunctionName": "f", "Runtime": "python3.11", "Handler": "app.handler",
             "Role": "arn:aws:iam::123456789012:role/x", "Publish": true,
             "Code": {"ZipFile": ")" +
         base64_encode(kZipBytes) + R"("})" + extra + "}";
}

std::string fault_of(const std::expected<api::FunctionSpec, AwsFault>& result) {
  return result ? std::string() : result.error().type + ": " + result.error().message;
}

TEST(LambdaRequests, CreateFunctionBecomesAZipSpec) {
  auto spec = read_create_function(create_body(
      R"(, "MemorySize": 256, "Timeout": 7, "Description": "kept nowhere",
         "Environment": {"Variables": {"GREETING": "hi", "EMPTY": ""}},
         "Architectures": ["x86_64"], "PackageType": "Zip", "Tags": {"team": "a"})"));
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->name(), "f");
  EXPECT_EQ(spec->runtime(), api::PYTHON3);
  EXPECT_EQ(spec->handler(), "app.handler");
  EXPECT_EQ(spec->code(), kZipBytes);
  EXPECT_EQ(spec->code_format(), api::ZIP);
  EXPECT_EQ(spec->memory_mb(), 256u);
  EXPECT_EQ(spec->timeout_ms(), 7000u);
  EXPECT_EQ(spec->env().at("GREETING"), "hi");
  EXPECT_EQ(spec->env().at("EMPTY"), "");
  EXPECT_FALSE(spec->url().enabled());

  // Unset numbers stay 0: sproutd's defaults are Lambda's (128 MiB, 3 s).
  auto defaults = read_create_function(create_body());
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->memory_mb(), 0u);
  EXPECT_EQ(defaults->timeout_ms(), 0u);
}

TEST(LambdaRequests, FunctionNameMayBeAnArn) {
  std::string body = create_body();
  body.replace(body.find("\"f\""), 3, R"("arn:aws:lambda:us-east-1:000000000000:function:by-arn")");
  auto spec = read_create_function(body);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->name(), "by-arn");
}

TEST(LambdaRequests, Python3RuntimeNamesOnly) {
  for (const char* name : {"python3.8", "python3.9", "python3.11", "python3.12", "python3.13"})
    EXPECT_TRUE(is_python3_runtime_name(name)) << name;
  for (const char* name : {"python3", "python2.7", "nodejs20.x", "java21", "provided.al2023",
                           "python3.11 ", "python3.x", ""})
    EXPECT_FALSE(is_python3_runtime_name(name)) << name;
  std::string node = create_body();
  node.replace(node.find("python3.11"), 10, "nodejs20.x");
  EXPECT_EQ(fault_of(read_create_function(node)),
            "InvalidParameterValueException: Runtime 'nodejs20.x' is not supported by sprout (it "
            "runs python3.x)");
}

TEST(LambdaRequests, MalformedAndInvalidBodiesAreRefusedAsAwsDoes) {
  auto malformed = read_create_function("{\"FunctionName\": ");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().status, 400u);
  EXPECT_EQ(malformed.error().type, "InvalidRequestContentException");
  EXPECT_EQ(read_create_function("[1, 2]").error().type, "InvalidRequestContentException");

  auto refused = [](const std::string& body) { return fault_of(read_create_function(body)); };
  EXPECT_NE(refused(R"({"Runtime": "python3.11", "Handler": "a.b", "Code": {"ZipFile": "UEsFBg=="}})")
                .find("FunctionName is required"),
            std::string::npos);
  EXPECT_NE(refused(R"({"FunctionName": "f", "Handler": "a.b", "Code": {"ZipFile": "UEsFBg=="}})")
                .find("Runtime is required"),
            std::string::npos);
  EXPECT_NE(refused(R"({"FunctionName": "f", "Runtime": "python3.11", "Code": {"ZipFile": "UEsFBg=="}})")
                .find("Handler is required"),
            std::string::npos);
  EXPECT_NE(refused(R"({"FunctionName": "f", "Runtime": "python3.11", "Handler": "a.b"})")
                .find("Code.ZipFile is required"),
            std::string::npos);
  EXPECT_NE(refused(R"({"FunctionName": "f", "Runtime": "python3.11", "Handler": "a.b",
                        "Code": {"ZipFile": "not base64!"}})")
                .find("InvalidParameterValueException: ZipFile is not valid base64"),
            std::string::npos);
  EXPECT_NE(refused(R"({"FunctionName": "f", "Runtime": "python3.11", "Handler": "a.b",
                        "Code": {"S3Bucket": "b", "S3Key": "k"}})")
                .find("ZipFile only, not S3Bucket"),
            std::string::npos);
  EXPECT_NE(refused(R"({"FunctionName": "bad/name", "Runtime": "python3.11", "Handler": "a.b",
                        "Code": {"ZipFile": "UEsFBg=="}})")
                .find("InvalidParameterValueException"),
            std::string::npos);
  EXPECT_NE(refused(create_body(R"(, "Timeout": 901)")).find("Timeout must be an integer from 1 to 900"),
            std::string::npos);
  EXPECT_NE(refused(create_body(R"(, "Timeout": "3")")).find("Timeout must be an integer"),
            std::string::npos);
  EXPECT_NE(refused(create_body(R"(, "MemorySize": 1.5)")).find("MemorySize must be an integer"),
            std::string::npos);
  EXPECT_NE(refused(create_body(R"(, "MemorySize": 20000)")).find("MemorySize"), std::string::npos);
  EXPECT_NE(refused(create_body(R"(, "Environment": {"Variables": {"N": 1}})"))
                .find("Environment.Variables.N must be a string"),
            std::string::npos);
  EXPECT_NE(refused(create_body(R"(, "Layers": ["arn:aws:lambda:us-east-1:1:layer:x:1"])"))
                .find("does not support Layers"),
            std::string::npos);
  EXPECT_NE(refused(create_body(R"(, "Architectures": ["arm64"])")).find("x86_64 only"),
            std::string::npos);
  EXPECT_NE(refused(create_body(R"(, "PackageType": "Image")")).find("PackageType Zip only"),
            std::string::npos);
}

TEST(LambdaRequests, UpdateFunctionCodeTakesZipFile) {
  auto zip = read_update_function_code(R"({"ZipFile": ")" + base64_encode(kZipBytes) +
                                       R"(", "Publish": false})");
  ASSERT_TRUE(zip) << zip.error().message;
  EXPECT_EQ(*zip, kZipBytes);
  EXPECT_EQ(read_update_function_code("{}").error().message, "ZipFile is required");
  EXPECT_EQ(read_update_function_code(R"({"ZipFile": "%%%"})").error().message,
            "ZipFile is not valid base64");
  EXPECT_EQ(read_update_function_code(R"({"ZipFile": "UEsFBg==", "DryRun": true})").error().message,
            "sprout does not support DryRun");
  EXPECT_EQ(read_update_function_code("nope").error().type, "InvalidRequestContentException");
}

TEST(LambdaRequests, UpdateFunctionConfigurationChangesOnlyWhatItNames) {
  api::FunctionSpec spec;
  spec.set_name("f");
  spec.set_runtime(api::PYTHON3);
  spec.set_handler("app.handler");
  spec.set_memory_mb(128);
  spec.set_timeout_ms(3000);
  (*spec.mutable_env())["OLD"] = "1";
  spec.set_max_concurrency(4);
  spec.mutable_url()->set_enabled(true);

  api::FunctionSpec memory_only = spec;
  ASSERT_TRUE(apply_update_function_configuration(R"({"MemorySize": 512})", memory_only));
  EXPECT_EQ(memory_only.memory_mb(), 512u);
  EXPECT_EQ(memory_only.env().at("OLD"), "1");
  EXPECT_EQ(memory_only.timeout_ms(), 3000u);

  api::FunctionSpec updated = spec;
  ASSERT_TRUE(apply_update_function_configuration(
      R"({"Timeout": 10, "Handler": "other.main", "Runtime": "python3.12",
          "Environment": {"Variables": {"NEW": "2"}}, "Role": "arn:aws:iam::1:role/y"})",
      updated));
  EXPECT_EQ(updated.timeout_ms(), 10000u);
  EXPECT_EQ(updated.handler(), "other.main");
  EXPECT_EQ(updated.env().size(), 1u) << "Environment replaces every variable";
  EXPECT_EQ(updated.env().at("NEW"), "2");
  EXPECT_EQ(updated.max_concurrency(), 4u);
  EXPECT_TRUE(updated.url().enabled());

  api::FunctionSpec cleared = spec;
  ASSERT_TRUE(apply_update_function_configuration(R"({"Environment": {}})", cleared));
  EXPECT_TRUE(cleared.env().empty());

  api::FunctionSpec exec = spec;
  exec.set_runtime(api::EXEC);
  auto refused = apply_update_function_configuration(R"({"Runtime": "python3.11"})", exec);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "a EXEC function cannot become a python3 one");
  EXPECT_EQ(apply_update_function_configuration("{", exec).error().type,
            "InvalidRequestContentException");
}

TEST(LambdaConfiguration, DescribesAFunctionAsLambdaDoes) {
  api::FunctionInfo info;
  api::FunctionSpec* spec = info.mutable_spec();
  spec->set_name("hello");
  spec->set_runtime(api::PYTHON3);
  spec->set_handler("app.handler");
  spec->set_memory_mb(256);
  spec->set_timeout_ms(1500);
  (*spec->mutable_env())["B"] = "2";
  (*spec->mutable_env())["A"] = "1\"quoted\"";
  info.set_version(3);
  info.set_code_size(1234);
  info.set_deployed_unix_ms(1704067200123);  // 2024-01-01T00:00:00.123Z

  auto parsed = parse_json(function_configuration_json(info, code_sha256("abc")));
  ASSERT_TRUE(parsed);
  auto text = [&](const char* key) {
    const JsonValue* value = parsed->find(key);
    return value && value->is_string() ? value->as_string() : std::string("<missing>");
  };
  auto number = [&](const char* key) {
    const JsonValue* value = parsed->find(key);
    return value && value->as_integer() ? *value->as_integer() : -1;
  };
  EXPECT_EQ(text("FunctionName"), "hello");
  EXPECT_EQ(text("FunctionArn"), "arn:aws:lambda:us-east-1:000000000000:function:hello");
  EXPECT_EQ(text("Runtime"), "python3.11");
  EXPECT_EQ(text("Role"), std::string(kFunctionRole));
  EXPECT_EQ(text("Handler"), "app.handler");
  EXPECT_EQ(number("CodeSize"), 1234);
  EXPECT_EQ(number("Timeout"), 2) << "whole seconds, rounded up";
  EXPECT_EQ(number("MemorySize"), 256);
  EXPECT_EQ(text("LastModified"), "2024-01-01T00:00:00.123+0000");
  // sha256("abc"), base64.
  EXPECT_EQ(text("CodeSha256"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  EXPECT_EQ(text("Version"), "$LATEST");
  EXPECT_EQ(text("State"), "Active");
  EXPECT_EQ(text("LastUpdateStatus"), "Successful");
  EXPECT_EQ(text("PackageType"), "Zip");
  EXPECT_EQ(parsed->find("Architectures")->dump(), R"(["x86_64"])");
  EXPECT_EQ(parsed->find("Environment")->find("Variables")->find("A")->as_string(), "1\"quoted\"");

  // Without the code at hand, CodeSha256 is left out rather than made up.
  auto unknown = parse_json(function_configuration_json(info, std::nullopt));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->find("CodeSha256"), nullptr);
}

TEST(LambdaConfiguration, AwsErrorShape) {
  HttpAnswer user = aws_error(404, "ResourceNotFoundException", "Function not found: \"x\"\n");
  EXPECT_EQ(user.status, 404u);
  ASSERT_EQ(user.headers.size(), 1u);
  EXPECT_EQ(user.headers[0].first, "x-amzn-ErrorType");
  EXPECT_EQ(user.headers[0].second, "ResourceNotFoundException");
  EXPECT_EQ(user.body, R"({"Type":"User","message":"Function not found: \"x\"\n"})");
  EXPECT_EQ(aws_error(500, "ServiceException", "boom").body,
            R"({"Type":"Service","message":"boom"})");
}

}  // namespace
}  // namespace sprout::http
