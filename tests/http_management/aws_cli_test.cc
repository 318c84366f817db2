// The Lambda function-management API through Debian's own AWS CLI, unchanged,
// against the real sproutd: create, get, list (paged), update the
// configuration and the code, invoke, delete; and the errors a deploy script
// meets (a conflict, a missing function, a bad zip, a failing init, an
// unsupported runtime, malformed JSON, an unknown route).
#include <gtest/gtest.h>

#include <fstream>

#include "http/json.h"
#include "http/management/lambda_configuration.h"
#include "tests/http_management/management_daemon.h"

namespace sprout::testing {
namespace {

using http::JsonValue;

const char* const kRole = "arn:aws:iam::000000000000:role/x";

const std::string kHandlerV1 =
    "import os\n"
    "def handler(event, context):\n"
    "    return {'greeting': os.environ.get('GREETING', 'none'), 'code': 1}\n";
const std::string kHandlerV2 =
    "import os\n"
    "def handler(event, context):\n"
    "    return {'greeting': os.environ.get('GREETING', 'none'), 'code': 2}\n";

class AwsCliTest : public ManagementDaemonTest {
 protected:
  // The JSON the CLI printed; fails the test when it is not JSON.
  JsonValue json_of(const CommandOutput& output) {
    EXPECT_EQ(output.exit_code, 0) << output.err;
    auto parsed = http::parse_json(output.out);
    EXPECT_TRUE(parsed) << "not JSON: " << output.out;
    return parsed ? *parsed : JsonValue();
  }
  static std::string text(const JsonValue& object, std::string_view key) {
    const JsonValue* value = object.is_object() ? object.find(key) : nullptr;
    return value && value->is_string() ? value->as_string() : "<missing " + std::string(key) + ">";
  }
  static int64_t number(const JsonValue& object, std::string_view key) {
    const JsonValue* value = object.is_object() ? object.find(key) : nullptr;
    return value && value->as_integer() ? *value->as_integer() : -1;
  }
  // The function's answer through `aws lambda invoke` (the front door's Invoke).
  std::string invoke(const std::string& name) {
    const std::string out = dir_ + "/out-" + name + ".json";
    auto invoked = aws_lambda({"invoke", "--function-name", name, out});
    EXPECT_EQ(invoked.exit_code, 0) << invoked.err;
    return read_file(out);
  }
};

TEST_F(AwsCliTest, DeployScriptLifecycle) {
  const std::string zip = make_zip("f.zip", {{"app.py", kHandlerV1}, {"lib/__init__.py", ""}});
  auto created = json_of(aws_lambda({"create-function", "--function-name", "f", "--runtime",
                                     "python3.11", "--handler", "app.handler", "--role", kRole,
                                     "--zip-file", "fileb://" + zip}));
  EXPECT_EQ(text(created, "FunctionName"), "f");
  EXPECT_EQ(text(created, "FunctionArn"), "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_EQ(text(created, "Runtime"), "python3.11");
  EXPECT_EQ(text(created, "Handler"), "app.handler");
  EXPECT_EQ(text(created, "State"), "Active");
  EXPECT_EQ(text(created, "CodeSha256"), http::code_sha256(read_file(zip)));
  EXPECT_EQ(number(created, "CodeSize"), static_cast<int64_t>(read_file(zip).size()));
  EXPECT_EQ(number(created, "MemorySize"), 128);
  EXPECT_EQ(number(created, "Timeout"), 3);
  EXPECT_EQ(invoke("f"), R"({"greeting": "none", "code": 1})");

  // The same name again: a conflict, as AWS answers it.
  auto again = aws_lambda({"create-function", "--function-name", "f", "--runtime", "python3.11",
                           "--handler", "app.handler", "--role", kRole, "--zip-file",
                           "fileb://" + zip});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("(ResourceConflictException)"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("Function already exist: f"), std::string::npos) << again.err;

  auto got = json_of(aws_lambda({"get-function", "--function-name", "f"}));
  ASSERT_TRUE(got.find("Configuration"));
  EXPECT_EQ(text(*got.find("Configuration"), "FunctionName"), "f");
  EXPECT_EQ(text(*got.find("Code"), "RepositoryType"), "S3");
  // By ARN too.
  auto by_arn = json_of(aws_lambda({"get-function-configuration", "--function-name",
                                    "arn:aws:lambda:us-east-1:000000000000:function:f"}));
  EXPECT_EQ(text(by_arn, "Version"), "$LATEST");

  auto configured = json_of(aws_lambda({"update-function-configuration", "--function-name", "f",
                                        "--memory-size", "256", "--timeout", "10",
                                        "--environment", "Variables={GREETING=hello}"}));
  EXPECT_EQ(number(configured, "MemorySize"), 256);
  EXPECT_EQ(number(configured, "Timeout"), 10);
  EXPECT_EQ(text(*configured.find("Environment")->find("Variables"), "GREETING"), "hello");
  EXPECT_EQ(text(configured, "CodeSha256"), http::code_sha256(read_file(zip)))
      << "a configuration change keeps the code";
  EXPECT_EQ(invoke("f"), R"({"greeting": "hello", "code": 1})");

  const std::string zip2 = make_zip("f2.zip", {{"app.py", kHandlerV2}});
  auto recoded = json_of(aws_lambda({"update-function-code", "--function-name", "f",
                                     "--zip-file", "fileb://" + zip2}));
  EXPECT_EQ(text(recoded, "CodeSha256"), http::code_sha256(read_file(zip2)));
  EXPECT_EQ(number(recoded, "MemorySize"), 256) << "a code change keeps the configuration";
  EXPECT_EQ(invoke("f"), R"({"greeting": "hello", "code": 2})");

  // Paged listing: the CLI follows NextMarker with one function a page.
  ASSERT_EQ(aws_lambda({"create-function", "--function-name", "g", "--runtime", "python3.12",
                        "--handler", "app.handler", "--role", kRole, "--zip-file",
                        "fileb://" + zip})
                .exit_code,
            0);
  auto listed = json_of(aws_lambda({"list-functions", "--page-size", "1"}));
  const JsonValue* functions = listed.find("Functions");
  ASSERT_TRUE(functions && functions->is_array()) << listed.dump();
  ASSERT_EQ(functions->items().size(), 2u) << listed.dump();
  EXPECT_EQ(text(functions->items()[0], "FunctionName"), "f");
  EXPECT_EQ(text(functions->items()[1], "FunctionName"), "g");
  auto first_page = json_of(aws_lambda({"list-functions", "--max-items", "1"}));
  EXPECT_EQ(first_page.find("Functions")->items().size(), 1u);

  EXPECT_EQ(aws_lambda({"delete-function", "--function-name", "f"}).exit_code, 0);
  auto gone = aws_lambda({"get-function", "--function-name", "f"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("(ResourceNotFoundException)"), std::string::npos) << gone.err;
  EXPECT_NE(gone.err.find("Function not found: arn:aws:lambda:us-east-1:000000000000:function:f"),
            std::string::npos);
  auto delete_again = aws_lambda({"delete-function", "--function-name", "f"});
  EXPECT_NE(delete_again.err.find("(ResourceNotFoundException)"), std::string::npos);
  auto update_missing = aws_lambda({"update-function-configuration", "--function-name", "f",
                                    "--timeout", "5"});
  EXPECT_NE(update_missing.err.find("(ResourceNotFoundException)"), std::string::npos);
}

TEST_F(AwsCliTest, WhatCannotBeDeployedIsRefusedAndNothingIsCreated) {
  auto create = [&](const std::string& name, const std::string& runtime, const std::string& zip) {
    return aws_lambda({"create-function", "--function-name", name, "--runtime", runtime,
                       "--handler", "app.handler", "--role", kRole, "--zip-file",
                       "fileb://" + zip});
  };
  auto missing = [&](const std::string& name) {
    return aws_lambda({"get-function", "--function-name", name})
               .err.find("(ResourceNotFoundException)") != std::string::npos;
  };
  // An archive that escapes /var/task: refused by the function's snapshot,
  // naming the entry.
  const std::string evil = make_zip("evil.zip", {{"../escape.py", "x = 1\n"}});
  auto escaped = create("evil", "python3.11", evil);
  EXPECT_NE(escaped.err.find("(InvalidParameterValueException)"), std::string::npos) << escaped.err;
  EXPECT_NE(escaped.err.find("Could not unzip uploaded file"), std::string::npos) << escaped.err;
  EXPECT_NE(escaped.err.find("'../escape.py'"), std::string::npos) << escaped.err;
  EXPECT_TRUE(missing("evil"));

  // An init that raises: nothing is created, and the init's error is named.
  const std::string broken = make_zip("broken.zip", {{"app.py", "raise RuntimeError('no db')\n"}});
  auto failed = create("broken", "python3.11", broken);
  EXPECT_NE(failed.err.find("(InvalidParameterValueException)"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("no db"), std::string::npos) << failed.err;
  EXPECT_TRUE(missing("broken"));

  const std::string good = make_zip("good.zip", {{"app.py", kHandlerV1}});
  auto node = create("node", "nodejs20.x", good);
  EXPECT_NE(node.err.find("(InvalidParameterValueException)"), std::string::npos) << node.err;
  EXPECT_NE(node.err.find("not supported by sprout"), std::string::npos) << node.err;
  EXPECT_TRUE(missing("node"));

  // A failed update keeps the version that serves.
  ASSERT_EQ(create("keep", "python3.11", good).exit_code, 0);
  auto bad_update =
      aws_lambda({"update-function-code", "--function-name", "keep", "--zip-file", "fileb://" + broken});
  EXPECT_NE(bad_update.err.find("(InvalidParameterValueException)"), std::string::npos);
  EXPECT_EQ(invoke("keep"), R"({"greeting": "none", "code": 1})");
  auto bad_memory = aws_lambda(
      {"update-function-configuration", "--function-name", "keep", "--memory-size", "20000"});
  EXPECT_NE(bad_memory.err.find("(InvalidParameterValueException)"), std::string::npos)
      << bad_memory.err;
}

TEST_F(AwsCliTest, RawRequestsGetAwsShapedErrors) {
  auto curl = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "-i"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  };
  auto malformed = curl({"-X", "POST", "--data-binary", "{\"FunctionName\": ",
                         endpoint() + "/2015-03-31/functions"});
  ASSERT_EQ(malformed.exit_code, 0) << malformed.err;
  EXPECT_EQ(malformed.out.rfind("HTTP/1.1 400", 0), 0u) << malformed.out;
  EXPECT_NE(malformed.out.find("x-amzn-ErrorType: InvalidRequestContentException"),
            std::string::npos)
      << malformed.out;
  EXPECT_NE(malformed.out.find(R"({"Type":"User","message":"Could not parse request body into json)"),
            std::string::npos)
      << malformed.out;

  auto unknown = curl({"-X", "PATCH", endpoint() + "/2015-03-31/functions/f"});
  EXPECT_EQ(unknown.out.rfind("HTTP/1.1 404", 0), 0u) << unknown.out;
  EXPECT_NE(unknown.out.find("UnknownOperationException"), std::string::npos) << unknown.out;

  auto bad_base64 = curl({"-X", "PUT", "--data-binary", R"({"ZipFile": "***"})",
                          endpoint() + "/2015-03-31/functions/f/code"});
  EXPECT_NE(bad_base64.out.find("x-amzn-ErrorType: InvalidParameterValueException"),
            std::string::npos)
      << bad_base64.out;

  auto bad_items = curl({endpoint() + "/2015-03-31/functions/?MaxItems=0"});
  EXPECT_NE(bad_items.out.find("MaxItems must be an integer from 1 to 10000"), std::string::npos)
      << bad_items.out;
  auto empty = curl({endpoint() + "/2015-03-31/functions/"});
  EXPECT_NE(empty.out.find(R"({"Functions":[]})"), std::string::npos) << empty.out;
}

}  // namespace
}  // namespace sprout::testing
