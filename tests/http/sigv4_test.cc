// http/sigv4: requests signed by botocore's SigV4Auth (the signer of the
// AWS CLI and boto3, from Debian's python3-botocore) are accepted; a
// tampered body, header, date, path or query, a wrong secret, an unknown
// key, another service and an old signature are refused.
#include "http/sigv4.h"

#include <gtest/gtest.h>
#include <strings.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "http/json.h"

namespace sprout::http {
namespace {

// Signs with botocore: the request in, its headers (with X-Amz-Date and
// Authorization) out, as JSON.
constexpr const char* kSigner = R"PY(
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
spec = json.load(open(sys.argv[1]))
request = AWSRequest(method=spec["method"], url=spec["url"], data=spec["body"].encode(),
                     headers=spec["headers"])
SigV4Auth(Credentials(spec["key"], spec["secret"]), spec["service"], spec["region"]).add_auth(request)
print(json.dumps(dict(request.headers.items())))
)PY";

class SigV4Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
    dir_ = std::filesystem::temp_directory_path() / ("sprout-sigv4-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "sign.py") << kSigner;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // A request signed by botocore, as the front door would receive it.
  HttpRequest signed_request(const std::string& method, const std::string& path,
                             const std::string& query, const std::string& body,
                             const std::string& secret = "SECRETKEY",
                             const std::string& service = "lambda",
                             const std::string& extra_header = "") {
    const std::string url =
        "http://127.0.0.1:9000" + path + (query.empty() ? "" : "?" + query);
    JsonObjectWriter headers;
    headers.string("Content-Type", "application/json");
    headers.string("X-Amz-Invocation-Type", "RequestResponse");
    if (!extra_header.empty()) headers.string("X-Amz-Content-SHA256", extra_header);
    JsonObjectWriter spec;
    spec.string("method", method)
        .string("url", url)
        .string("body", body)
        .raw("headers", headers.str())
        .string("key", "AKIDTEST")
        .string("secret", secret)
        .string("service", service)
        .string("region", "eu-west-3");
    std::ofstream(dir_ / "request.json", std::ios::trunc) << spec.str();
    const std::string command =
        "/usr/bin/python3 " + (dir_ / "sign.py").string() + " " + (dir_ / "request.json").string();
    FILE* pipe = popen(command.c_str(), "r");
    std::string out;
    char buffer[4096];
    size_t n;
    while (pipe && (n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    const int status = pipe ? pclose(pipe) : -1;
    EXPECT_EQ(status, 0) << "the botocore signer failed: " << out;
    auto signed_headers = parse_json(out);
    EXPECT_TRUE(signed_headers && signed_headers->is_object()) << out;
    HttpRequest request;
    request.method = method;
    request.raw_path = path;
    request.raw_query = query;
    request.body = body;
    request.headers.emplace_back("Host", "127.0.0.1:9000");
    request.headers.emplace_back("User-Agent", "test");
    if (signed_headers) {
      for (const auto& [name, value] : signed_headers->members())
        request.headers.emplace_back(name, value.as_string());
    }
    return request;
  }

  static void set_header(HttpRequest& request, const std::string& name, const std::string& value) {
    for (auto& [field, old] : request.headers)
      if (strcasecmp(field.c_str(), name.c_str()) == 0) old = value;
  }

  const std::map<std::string, std::string> credentials_{{"AKIDTEST", "SECRETKEY"},
                                                        {"OTHER", "x"}};
  std::filesystem::path dir_;
};

constexpr const char* kArnPath =
    "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello/"
    "invocations";

TEST_F(SigV4Test, AcceptsWhatBotocoreSigned) {
  auto request = signed_request("POST", kArnPath, "Qualifier=%24LATEST", R"({"a": 1})");
  auto verdict = verify_sigv4(request, credentials_, std::chrono::system_clock::now());
  EXPECT_TRUE(verdict.ok) << verdict.error_type << ": " << verdict.message;
  EXPECT_EQ(verdict.access_key_id, "AKIDTEST");
  EXPECT_EQ(verdict.region, "eu-west-3");

  // Paths and queries that canonicalization must get right: dot segments,
  // repeated slashes, reserved characters, several parameters out of order.
  for (const auto& [path, query] : std::vector<std::pair<std::string, std::string>>{
           {"/fn/web/a/./b//c/../d", "z=1&a=2&a=1&empty="},
           {"/fn/web/%24weird%20path/", "q=a%2Fb%20c&x=~"},
           {"/", ""}}) {
    auto get = signed_request("GET", path, query, "");
    auto ok = verify_sigv4(get, credentials_, std::chrono::system_clock::now());
    EXPECT_TRUE(ok.ok) << path << "?" << query << ": " << ok.message;
  }
  // A client that sends the body's hash: it must be the body's.
  auto hashed = signed_request("POST", "/fn/web/", "", "payload", "SECRETKEY", "lambda",
                               sha256_hex("payload"));
  EXPECT_TRUE(verify_sigv4(hashed, credentials_, std::chrono::system_clock::now()).ok);
}

TEST_F(SigV4Test, RefusesTamperedRequests) {
  const auto now = std::chrono::system_clock::now();
  const auto original = signed_request("POST", kArnPath, "Qualifier=1", R"({"amount": 10})");
  ASSERT_TRUE(verify_sigv4(original, credentials_, now).ok);
  auto expect_refused = [&](const HttpRequest& request, const std::string& type,
                            const std::string& what) {
    auto verdict = verify_sigv4(request, credentials_, now);
    EXPECT_FALSE(verdict.ok) << what;
    EXPECT_EQ(verdict.error_type, type) << what << ": " << verdict.message;
  };
  auto body = original;
  body.body = R"({"amount": 1000})";
  expect_refused(body, "InvalidSignatureException", "a changed body");
  auto header = original;
  set_header(header, "X-Amz-Invocation-Type", "Event");
  expect_refused(header, "InvalidSignatureException", "a changed signed header");
  auto path = original;
  path.raw_path = "/2015-03-31/functions/other/invocations";
  expect_refused(path, "InvalidSignatureException", "another function");
  auto query = original;
  query.raw_query = "Qualifier=2";
  expect_refused(query, "InvalidSignatureException", "another qualifier");
  auto method = original;
  method.method = "PUT";
  expect_refused(method, "InvalidSignatureException", "another method");
  auto date = original;
  std::string amz_date = date.header("x-amz-date");
  amz_date[14] = amz_date[14] == '0' ? '1' : '0';  // one second off, still within the skew
  set_header(date, "X-Amz-Date", amz_date);
  expect_refused(date, "InvalidSignatureException", "a changed date");
  auto hash = original;
  hash.headers.emplace_back("x-amz-content-sha256", sha256_hex("something else"));
  expect_refused(hash, "InvalidSignatureException", "a claimed hash that is not the body's");

  expect_refused(signed_request("POST", kArnPath, "", "{}", "WRONGSECRET"),
                 "InvalidSignatureException", "a wrong secret");
  expect_refused(signed_request("POST", kArnPath, "", "{}", "SECRETKEY", "s3"),
                 "InvalidSignatureException", "another service");
  auto unknown = original;
  set_header(unknown, "Authorization",
             std::string(original.header("authorization")).replace(28, 8, "AKIDNONE"));
  expect_refused(unknown, "UnrecognizedClientException", "an unknown access key");
  auto unsigned_request = original;
  std::erase_if(unsigned_request.headers,
                [](const auto& h) { return strcasecmp(h.first.c_str(), "authorization") == 0; });
  expect_refused(unsigned_request, "MissingAuthenticationTokenException", "no signature");
  auto garbage = original;
  set_header(garbage, "Authorization", "Basic dXNlcjpwYXNz");
  expect_refused(garbage, "IncompleteSignatureException", "another scheme");
}

TEST_F(SigV4Test, RefusesASignatureOutsideTheClockSkew) {
  const auto request = signed_request("POST", kArnPath, "", "{}");
  const auto now = std::chrono::system_clock::now();
  EXPECT_TRUE(verify_sigv4(request, credentials_, now + std::chrono::minutes(4)).ok);
  auto late = verify_sigv4(request, credentials_, now + std::chrono::minutes(6));
  EXPECT_FALSE(late.ok);
  EXPECT_NE(late.message.find("Signature expired"), std::string::npos) << late.message;
  EXPECT_FALSE(verify_sigv4(request, credentials_, now - std::chrono::minutes(6)).ok);
}

TEST(SigV4Canonical, UriAndQueryAsAwsSpecifies) {
  EXPECT_EQ(sigv4_canonical_uri(""), "/");
  EXPECT_EQ(sigv4_canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
  // The path as sent is encoded once more: %3A becomes %253A.
  EXPECT_EQ(sigv4_canonical_uri("/functions/arn%3Aaws/x"), "/functions/arn%253Aaws/x");
  EXPECT_EQ(sigv4_canonical_uri("/$x y"), "/%24x%20y");
  EXPECT_EQ(sigv4_canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
  EXPECT_EQ(sigv4_canonical_query("Qualifier=$LATEST"), "Qualifier=%24LATEST");
  EXPECT_EQ(sigv4_canonical_query("k=%2f%7e"), "k=%2F~");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace sprout::http
