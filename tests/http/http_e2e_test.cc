// The HTTP front door against a real sproutd, with the clients Lambda users
// already have: Debian's AWS CLI and boto3 (unchanged, dummy credentials,
// endpoint on loopback), curl, and raw requests. Label http;e2e.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "http/encoding.h"
#include "http/json.h"
#include "tests/http/http_daemon.h"

namespace sprout::testing {
namespace {

using http::JsonValue;
using http::parse_json;

const char kEchoHandler[] = R"PY(
import json
def handler(event, context):
    print("hello from the handler, event:", json.dumps(event))
    return {"echo": event, "version": context.function_version}
)PY";

const char kFailingHandler[] = R"PY(
def handler(event, context):
    raise ValueError("bad input: " + str(event))
)PY";

const char kSleepingHandler[] = R"PY(
import time
def handler(event, context):
    time.sleep(float(event.get("sleep_s", 30)) if isinstance(event, dict) else 30)
    return "woke"
)PY";

// A function URL handler: returns the event it got, or the structured
// answer the event asks for.
const char kUrlHandler[] = R"PY(
import json
def handler(event, context):
    if event.get("rawPath") == "/created":
        return {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Made": "yes"},
                "cookies": ["id=7; Path=/", "theme=dark"], "body": "made it"}
    return event
)PY";

std::string config_with_credentials(const std::string& key, const std::string& secret,
                                    bool allow_loopback) {
  return "http_allow_unauthenticated_loopback: " + std::string(allow_loopback ? "true" : "false") +
         "\nhttp_credentials { access_key_id: \"" + key + "\" secret_access_key: \"" + secret +
         "\" }\n";
}

class HttpE2eTest : public HttpDaemonTest {};

TEST_F(HttpE2eTest, AwsCliInvokesWithTheLogTail) {
  if (access("/usr/bin/aws", X_OK) != 0) GTEST_SKIP() << "Debian's awscli is not installed";
  start_daemon(config_with_credentials(access_key_, secret_key_, true));
  deploy_python("hello", kEchoHandler);
  const std::string out = dir_ + "/out.json";
  // Signed by the CLI (it always signs): the verifier checks it even on
  // loopback.
  auto invoked = run({"/usr/bin/aws", "lambda", "invoke", "--endpoint-url", endpoint_url(),
                      "--function-name", "hello", "--log-type", "Tail", "--cli-binary-format",
                      "raw-in-base64-out", "--payload", R"({"name": "cli"})", out});
  ASSERT_EQ(invoked.exit_code, 0) << invoked.output;
  auto summary = parse_json(invoked.output);
  ASSERT_TRUE(summary && summary->is_object()) << invoked.output;
  EXPECT_EQ(summary->find("StatusCode")->number_text(), "200");
  EXPECT_EQ(summary->find("ExecutedVersion")->as_string(), "$LATEST");
  EXPECT_EQ(summary->find("FunctionError"), nullptr);
  auto logs = http::base64_decode(summary->find("LogResult")->as_string());
  ASSERT_TRUE(logs.has_value());
  EXPECT_NE(logs->find("hello from the handler"), std::string::npos) << *logs;
  std::ifstream result_file(out);
  const std::string result((std::istreambuf_iterator<char>(result_file)),
                           std::istreambuf_iterator<char>());
  auto result_json = parse_json(result);
  ASSERT_TRUE(result_json && result_json->is_object()) << result;
  EXPECT_EQ(result_json->find("echo")->find("name")->as_string(), "cli");

  // By ARN, with the version as qualifier.
  auto by_arn = run({"/usr/bin/aws", "lambda", "invoke", "--endpoint-url", endpoint_url(),
                     "--function-name", "arn:aws:lambda:us-east-1:123456789012:function:hello:1",
                     "--cli-binary-format", "raw-in-base64-out", "--payload", "{}", out});
  EXPECT_EQ(by_arn.exit_code, 0) << by_arn.output;
  EXPECT_NE(by_arn.output.find("\"ExecutedVersion\": \"1\""), std::string::npos) << by_arn.output;

  auto missing = run({"/usr/bin/aws", "lambda", "invoke", "--endpoint-url", endpoint_url(),
                      "--function-name", "nobody", out});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("ResourceNotFoundException"), std::string::npos)
      << missing.output;
}

// Every Invoke behaviour through boto3's own client and error classes.
const char kBotoScript[] = R"PY(
import base64, json, os, sys
import boto3, botocore
client = boto3.client("lambda", endpoint_url=os.environ["SPROUT_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                      config=botocore.config.Config(retries={"max_attempts": 0}, read_timeout=120))
seen = {}
ok = client.invoke(FunctionName="hello", Payload=json.dumps({"n": 1}), LogType="Tail")
seen["ok_status"] = ok["StatusCode"]
seen["ok_payload"] = json.loads(ok["Payload"].read())
seen["ok_log"] = base64.b64decode(ok["LogResult"]).decode()
seen["ok_version"] = ok["ExecutedVersion"]
try:
    client.invoke(FunctionName="nobody", Payload=b"{}")
    seen["missing"] = "no error"
except client.exceptions.ResourceNotFoundException as error:
    seen["missing"] = "ResourceNotFoundException"
    seen["missing_http"] = error.response["ResponseMetadata"]["HTTPStatusCode"]
failed = client.invoke(FunctionName="failing", Payload=json.dumps("x"))
seen["failed_status"] = failed["StatusCode"]
seen["failed_error"] = failed.get("FunctionError")
seen["failed_payload"] = json.loads(failed["Payload"].read())
slow = client.invoke(FunctionName="sleepy", Payload=json.dumps({"sleep_s": 30}))
seen["timeout_error"] = slow.get("FunctionError")
seen["timeout_payload"] = json.loads(slow["Payload"].read())
event = client.invoke(FunctionName="hello", InvocationType="Event", Payload=b"{}")
seen["event_status"] = event["StatusCode"]
dry = client.invoke(FunctionName="hello", InvocationType="DryRun")
seen["dryrun_status"] = dry["StatusCode"]
latest = client.invoke(FunctionName="hello", Qualifier="$LATEST", Payload=b"null")
seen["latest_payload"] = json.loads(latest["Payload"].read())
try:
    client.invoke(FunctionName="hello", Qualifier="99", Payload=b"{}")
    seen["old_version"] = "no error"
except client.exceptions.ResourceNotFoundException:
    seen["old_version"] = "ResourceNotFoundException"
try:
    client.invoke(FunctionName="hello", Payload=b"{not json")
    seen["bad_json"] = "no error"
except client.exceptions.InvalidRequestContentException:
    seen["bad_json"] = "InvalidRequestContentException"
try:
    client.invoke(FunctionName="hello", Payload=b"\"" + b"x" * (6 * 1024 * 1024) + b"\"")
    seen["too_large"] = "no error"
except client.exceptions.RequestTooLargeException:
    seen["too_large"] = "RequestTooLargeException"
print(json.dumps(seen))
)PY";

TEST_F(HttpE2eTest, Boto3InvokeSuccessErrorsTimeoutEventAndDryRun) {
  start_daemon(config_with_credentials(access_key_, secret_key_, true));
  deploy_python("hello", kEchoHandler);
  deploy_python("failing", kFailingHandler);
  deploy_python("sleepy", kSleepingHandler, [](api::FunctionSpec& s) { s.set_timeout_ms(1000); });
  auto ran = run({"/usr/bin/python3", write_file("boto.py", kBotoScript)});
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  auto seen = parse_json(ran.output.substr(ran.output.rfind("\n{") == std::string::npos
                                               ? 0
                                               : ran.output.rfind("\n{") + 1));
  ASSERT_TRUE(seen && seen->is_object()) << ran.output;
  auto field = [&](const char* name) -> const JsonValue& {
    static const JsonValue kNull;
    const JsonValue* value = seen->find(name);
    return value ? *value : kNull;
  };
  EXPECT_EQ(field("ok_status").number_text(), "200");
  EXPECT_EQ(field("ok_payload").find("echo")->find("n")->number_text(), "1");
  EXPECT_NE(field("ok_log").as_string().find("hello from the handler"), std::string::npos);
  EXPECT_EQ(field("ok_version").as_string(), "$LATEST");
  EXPECT_EQ(field("missing").as_string(), "ResourceNotFoundException");
  EXPECT_EQ(field("missing_http").number_text(), "404");
  EXPECT_EQ(field("failed_status").number_text(), "200");
  EXPECT_EQ(field("failed_error").as_string(), "Unhandled");
  EXPECT_EQ(field("failed_payload").find("errorType")->as_string(), "ValueError");
  EXPECT_EQ(field("failed_payload").find("errorMessage")->as_string(), "bad input: x");
  EXPECT_TRUE(field("failed_payload").find("stackTrace")->is_array());
  EXPECT_EQ(field("timeout_error").as_string(), "Unhandled");
  EXPECT_NE(field("timeout_payload").find("errorMessage")->as_string().find(
                "Task timed out after 1.00 seconds"),
            std::string::npos)
      << ran.output;
  EXPECT_EQ(field("event_status").number_text(), "202");
  EXPECT_EQ(field("dryrun_status").number_text(), "204");
  EXPECT_TRUE(field("latest_payload").find("echo")->is_null()) << "the null event";
  EXPECT_EQ(field("old_version").as_string(), "ResourceNotFoundException");
  EXPECT_EQ(field("bad_json").as_string(), "InvalidRequestContentException");
  EXPECT_EQ(field("too_large").as_string(), "RequestTooLargeException");
}

const char kSignedOnlyScript[] = R"PY(
import json, os
import boto3, botocore
def client(secret, key=os.environ["AWS_ACCESS_KEY_ID"]):
    return boto3.client("lambda", endpoint_url=os.environ["SPROUT_ENDPOINT"], region_name="eu-west-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 0}))
seen = {}
for name, c in (("wrong_secret", client("not-the-secret")),
                ("unknown_key", client(os.environ["AWS_SECRET_ACCESS_KEY"], "AKIDUNKNOWN"))):
    try:
        c.invoke(FunctionName="hello", Payload=b"{}")
        seen[name] = "no error"
    except botocore.exceptions.ClientError as error:
        seen[name] = error.response["Error"]["Code"]
        seen[name + "_http"] = error.response["ResponseMetadata"]["HTTPStatusCode"]
right = client(os.environ["AWS_SECRET_ACCESS_KEY"]).invoke(FunctionName="hello", Payload=b"{}")
seen["right"] = right["StatusCode"]
print(json.dumps(seen))
)PY";

TEST_F(HttpE2eTest, WithoutTheLoopbackExemptionOnlySignedRequestsPass) {
  start_daemon(config_with_credentials(access_key_, secret_key_, false));
  deploy_python("hello", kEchoHandler);
  auto unsigned_invoke =
      request("POST", "/2015-03-31/functions/hello/invocations", "{}",
              {"Content-Type: application/json"});
  EXPECT_EQ(unsigned_invoke.status, 403) << unsigned_invoke.body;
  EXPECT_EQ(unsigned_invoke.header("x-amzn-errortype"), "MissingAuthenticationTokenException");
  EXPECT_EQ(request("GET", "/healthz").status, 403) << "every route";
  EXPECT_EQ(request("GET", "/fn/hello/").status, 403);
  auto forged = request("POST", "/2015-03-31/functions/hello/invocations", "{}",
                        {"Authorization: AWS4-HMAC-SHA256 Credential=" + access_key_ +
                             "/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, "
                             "Signature=00",
                         "X-Amz-Date: 20240101T000000Z"});
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(forged.header("x-amzn-errortype"), "InvalidSignatureException") << forged.body;

  auto ran = run({"/usr/bin/python3", write_file("signed.py", kSignedOnlyScript)});
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  auto seen = parse_json(ran.output.substr(ran.output.find('{')));
  ASSERT_TRUE(seen && seen->is_object()) << ran.output;
  EXPECT_EQ(seen->find("wrong_secret")->as_string(), "InvalidSignatureException");
  EXPECT_EQ(seen->find("wrong_secret_http")->number_text(), "403");
  EXPECT_EQ(seen->find("unknown_key")->as_string(), "UnrecognizedClientException");
  EXPECT_EQ(seen->find("right")->number_text(), "200");
}

TEST_F(HttpE2eTest, FunctionUrlsWithCurl) {
  if (access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed";
  start_daemon();
  deploy_python("web", kUrlHandler, [](api::FunctionSpec& s) {
    auto* url = s.mutable_url();
    url->set_enabled(true);
    url->add_cors_allow_origins("https://app.example.com");
    url->add_cors_allow_methods("GET");
    url->add_cors_allow_methods("POST");
    url->add_cors_allow_headers("x-token");
    url->set_cors_max_age_s(300);
  });
  deploy_python("private", kUrlHandler);  // its URL is not enabled
  const std::string base = endpoint_url() + "/fn/web";

  auto get = run({"/usr/bin/curl", "-sS", "-H", "Cookie: session=abc; theme=dark", "-H",
                  "X-Multi: 1", "-H", "X-Multi: 2", base + "/items/42?a=1&a=2&b=x%20y"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  auto event = parse_json(get.output);
  ASSERT_TRUE(event && event->is_object()) << get.output;
  EXPECT_EQ(event->find("version")->as_string(), "2.0");
  EXPECT_EQ(event->find("rawPath")->as_string(), "/items/42");
  EXPECT_EQ(event->find("rawQueryString")->as_string(), "a=1&a=2&b=x%20y");
  EXPECT_EQ(event->find("queryStringParameters")->find("a")->as_string(), "1,2");
  EXPECT_EQ(event->find("queryStringParameters")->find("b")->as_string(), "x y");
  ASSERT_EQ(event->find("cookies")->items().size(), 2u);
  EXPECT_EQ(event->find("cookies")->items()[0].as_string(), "session=abc");
  EXPECT_EQ(event->find("headers")->find("x-multi")->as_string(), "1,2");
  EXPECT_EQ(event->find("requestContext")->find("http")->find("method")->as_string(), "GET");
  EXPECT_EQ(event->find("requestContext")->find("http")->find("sourceIp")->as_string(),
            "127.0.0.1");
  EXPECT_NE(event->find("requestContext")->find("http")->find("userAgent")->as_string().find(
                "curl"),
            std::string::npos);

  const std::string binary("\x00\x01\xfe\xff binary", 11);
  const std::string binary_file = write_file("blob.bin", binary);
  auto post = run({"/usr/bin/curl", "-sS", "-X", "POST", "-H",
                   "Content-Type: application/octet-stream", "--data-binary", "@" + binary_file,
                   base + "/upload"});
  ASSERT_EQ(post.exit_code, 0) << post.output;
  auto posted = parse_json(post.output);
  ASSERT_TRUE(posted && posted->is_object()) << post.output;
  EXPECT_TRUE(posted->find("isBase64Encoded")->as_bool());
  EXPECT_EQ(http::base64_decode(posted->find("body")->as_string()), binary);

  auto created = request("POST", "/fn/web/created", "{}", {"Content-Type: application/json"});
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.body, "made it");
  EXPECT_EQ(created.header("content-type"), "text/plain");
  EXPECT_EQ(created.header("x-made"), "yes");
  EXPECT_EQ(created.headers.count("set-cookie"), 2u);

  auto preflight = request("OPTIONS", "/fn/web/anything", "",
                           {"Origin: https://app.example.com",
                            "Access-Control-Request-Method: POST",
                            "Access-Control-Request-Headers: x-token"});
  EXPECT_EQ(preflight.status, 200);
  EXPECT_EQ(preflight.header("access-control-allow-origin"), "https://app.example.com");
  EXPECT_EQ(preflight.header("access-control-allow-methods"), "GET,POST");
  EXPECT_EQ(preflight.header("access-control-allow-headers"), "x-token");
  EXPECT_EQ(preflight.header("access-control-max-age"), "300");
  auto cross_origin = request("GET", "/fn/web/x", "", {"Origin: https://app.example.com"});
  EXPECT_EQ(cross_origin.status, 200);
  EXPECT_EQ(cross_origin.header("access-control-allow-origin"), "https://app.example.com");

  auto disabled = request("GET", "/fn/private/");
  EXPECT_EQ(disabled.status, 404);
  EXPECT_EQ(disabled.header("x-amzn-errortype"), "ResourceNotFoundException");
  EXPECT_EQ(request("GET", "/fn/nobody/").status, 404);
}

TEST_F(HttpE2eTest, HealthMetricsAndUnknownRoutes) {
  start_daemon();
  auto health = request("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  auto metrics = request("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/nowhere"}, {"DELETE", "/healthz"}, {"GET", "/2015-03-31/unknown-thing"},
           {"PATCH", "/2015-03-31/functions/hello/invocations"}}) {
    auto unknown = request(method, path);
    EXPECT_EQ(unknown.status, 404) << method << " " << path;
    EXPECT_EQ(unknown.header("x-amzn-errortype"), "UnknownOperationException") << path;
    EXPECT_FALSE(unknown.header("x-amzn-requestid").empty());
  }
  deploy_python("hello", kEchoHandler);
  auto bad_json = request("POST", "/2015-03-31/functions/hello/invocations", "{\"a\":");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.header("x-amzn-errortype"), "InvalidRequestContentException");
  auto bad_type = request("POST", "/2015-03-31/functions/hello/invocations", "{}",
                          {"X-Amz-Invocation-Type: Sometimes"});
  EXPECT_EQ(bad_type.status, 400);
  auto bad_name = request("POST", "/2015-03-31/functions/..%2Fetc/invocations", "{}");
  EXPECT_EQ(bad_name.status, 400) << bad_name.body;
  // Keep-alive: two requests on one connection.
  const int fd = connect_tcp();
  ASSERT_GE(fd, 0);
  const std::string twice =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(fd, twice.data(), twice.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(twice.size()));
  EXPECT_EQ(read_reply(fd).status, 200);
  EXPECT_EQ(read_reply(fd).status, 200);
  close(fd);
}

}  // namespace
}  // namespace sprout::testing
