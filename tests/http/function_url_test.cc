// http/function_url: the payload 2.0 event a function URL sends, the answer
// built from the function's result, and the CORS answers.
#include "http/function_url.h"

#include <gtest/gtest.h>

#include "http/encoding.h"
#include "http/json.h"

namespace sprout::http {
namespace {

HttpRequest get_with_query_and_cookies() {
  HttpRequest request;
  request.method = "GET";
  request.raw_path = "/fn/web/items/42";
  request.raw_query = "a=1&b=x%20y&a=2&flag";
  request.headers = {{"Host", "sprout.example.com:9000"},
                     {"User-Agent", "curl/7.88"},
                     {"X-Multi", "one"},
                     {"Cookie", "s=abc; theme=dark"},
                     {"x-multi", "two"}};
  request.peer_address = "10.1.2.3";
  return request;
}

TEST(FunctionUrlEvent, Payload20AsApiGatewaySendsIt) {
  const auto now = std::chrono::system_clock::time_point(std::chrono::milliseconds(1583348638390));
  const std::string text = build_url_event(
      get_with_query_and_cookies(),
      {.function_name = "web", .raw_path = "/items/42", .request_id = "rid-1", .now = now});
  auto event = parse_json(text);
  ASSERT_TRUE(event && event->is_object()) << text;
  EXPECT_EQ(event->find("version")->as_string(), "2.0");
  EXPECT_EQ(event->find("routeKey")->as_string(), "$default");
  EXPECT_EQ(event->find("rawPath")->as_string(), "/items/42") << "without /fn/{name}";
  EXPECT_EQ(event->find("rawQueryString")->as_string(), "a=1&b=x%20y&a=2&flag");
  const auto* headers = event->find("headers");
  ASSERT_TRUE(headers && headers->is_object());
  EXPECT_EQ(headers->find("x-multi")->as_string(), "one,two") << "repeated: comma-joined";
  EXPECT_EQ(headers->find("user-agent")->as_string(), "curl/7.88") << "lower-cased";
  EXPECT_EQ(headers->find("cookie"), nullptr) << "cookies travel apart";
  const auto* cookies = event->find("cookies");
  ASSERT_TRUE(cookies && cookies->is_array());
  ASSERT_EQ(cookies->items().size(), 2u);
  EXPECT_EQ(cookies->items()[0].as_string(), "s=abc");
  EXPECT_EQ(cookies->items()[1].as_string(), "theme=dark");
  const auto* query = event->find("queryStringParameters");
  ASSERT_TRUE(query && query->is_object());
  EXPECT_EQ(query->find("a")->as_string(), "1,2");
  EXPECT_EQ(query->find("b")->as_string(), "x y") << "decoded";
  EXPECT_EQ(query->find("flag")->as_string(), "");
  const auto* context = event->find("requestContext");
  ASSERT_TRUE(context && context->is_object());
  EXPECT_EQ(context->find("accountId")->as_string(), "000000000000");
  EXPECT_EQ(context->find("apiId")->as_string(), "web");
  EXPECT_EQ(context->find("domainName")->as_string(), "sprout.example.com");
  EXPECT_EQ(context->find("domainPrefix")->as_string(), "sprout");
  EXPECT_EQ(context->find("requestId")->as_string(), "rid-1");
  EXPECT_EQ(context->find("routeKey")->as_string(), "$default");
  EXPECT_EQ(context->find("stage")->as_string(), "$default");
  EXPECT_EQ(context->find("time")->as_string(), "04/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(context->find("timeEpoch")->number_text(), "1583348638390");
  const auto* http = context->find("http");
  ASSERT_TRUE(http && http->is_object());
  EXPECT_EQ(http->find("method")->as_string(), "GET");
  EXPECT_EQ(http->find("path")->as_string(), "/items/42");
  EXPECT_EQ(http->find("protocol")->as_string(), "HTTP/1.1");
  EXPECT_EQ(http->find("sourceIp")->as_string(), "10.1.2.3");
  EXPECT_EQ(http->find("userAgent")->as_string(), "curl/7.88");
  EXPECT_EQ(event->find("body"), nullptr) << "no body, no field";
  EXPECT_FALSE(event->find("isBase64Encoded")->as_bool());
}

TEST(FunctionUrlEvent, TextBodiesAsTheyAreOthersInBase64) {
  HttpRequest request;
  request.method = "POST";
  request.raw_path = "/fn/web";
  auto event_for = [&](const std::string& content_type, const std::string& body) {
    request.headers = {{"Content-Type", content_type}};
    request.body = body;
    auto event = parse_json(build_url_event(request, {.function_name = "web", .raw_path = "/"}));
    EXPECT_TRUE(event.has_value());
    return *event;
  };
  for (const char* text_type : {"application/json", "text/plain; charset=utf-8",
                                "application/x-www-form-urlencoded", "application/vnd.api+json",
                                "application/xml", "application/javascript"}) {
    auto event = event_for(text_type, "héllo");
    EXPECT_EQ(event.find("body")->as_string(), "héllo") << text_type;
    EXPECT_FALSE(event.find("isBase64Encoded")->as_bool()) << text_type;
  }
  const std::string binary("\x89PNG\r\n\x1a\n\0\xff", 10);
  for (const char* binary_type : {"image/png", "application/octet-stream", ""}) {
    auto event = event_for(binary_type, binary);
    EXPECT_EQ(event.find("body")->as_string(), base64_encode(binary)) << binary_type;
    EXPECT_TRUE(event.find("isBase64Encoded")->as_bool()) << binary_type;
  }
  auto invalid_text = event_for("text/plain", std::string("\xff\xfe", 2));
  EXPECT_TRUE(invalid_text.find("isBase64Encoded")->as_bool()) << "not UTF-8: base64";
}

TEST(FunctionUrlAnswer, StructuredResultsAndPlainOnes) {
  auto structured = url_answer_from_result(
      R"({"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Count": 3},
          "cookies": ["a=1; Path=/", "b=2"], "body": "created"})");
  EXPECT_EQ(structured.status, 201u);
  EXPECT_EQ(structured.content_type, "text/plain");
  EXPECT_EQ(structured.body, "created");
  int set_cookies = 0;
  bool count = false;
  for (const auto& [name, value] : structured.headers) {
    if (name == "Set-Cookie") ++set_cookies;
    if (name == "X-Count") count = value == "3";
  }
  EXPECT_EQ(set_cookies, 2);
  EXPECT_TRUE(count) << "a number as a header value";

  auto binary = url_answer_from_result(
      R"({"statusCode": 200, "body": "AAEC/w==", "isBase64Encoded": true})");
  EXPECT_EQ(binary.body, std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(binary.content_type, "application/json") << "the default";

  for (const char* plain : {R"({"message": "hi"})", R"("just a string")", "[1,2]", "null", "42"}) {
    auto answer = url_answer_from_result(plain);
    EXPECT_EQ(answer.status, 200u) << plain;
    EXPECT_EQ(answer.content_type, "application/json") << plain;
    EXPECT_EQ(answer.body, plain) << "the JSON result itself";
  }
  for (const char* bad : {"not json", R"({"statusCode": "200"})", R"({"statusCode": 99})",
                          R"({"statusCode": 200, "headers": []})",
                          R"({"statusCode": 200, "headers": {"X": "a\r\nInjected: 1"}})",
                          R"({"statusCode": 200, "cookies": "a=1"})",
                          R"({"statusCode": 200, "body": "%%%", "isBase64Encoded": true})"}) {
    EXPECT_EQ(url_answer_from_result(bad).status, 502u) << bad;
  }
  EXPECT_EQ(url_function_failed().status, 502u);
}

// What a hostile function returns must never reach the wire as anything but
// one well-formed answer (found by an attacker's review, each once worked).
TEST(FunctionUrlAnswer, AHostileResultCannotSplitOrBreakTheAnswer) {
  // An interim status with a body: read by clients as the real answer's head.
  for (const char* interim : {R"({"statusCode": 103, "body": "HTTP/1.1 200 OK\r\n\r\nPWNED"})",
                              R"({"statusCode": 100})", R"({"statusCode": 199})"}) {
    EXPECT_EQ(url_answer_from_result(interim).status, 502u) << interim;
  }
  // 204 and 304 have no body on the wire (a body made Beast throw and sproutd end).
  for (const char* bodiless : {R"({"statusCode": 204, "body": "x"})",
                               R"({"statusCode": 304, "body": "abc"})"}) {
    auto answer = url_answer_from_result(bodiless);
    EXPECT_NE(answer.status, 502u) << bodiless;
    EXPECT_TRUE(answer.body.empty()) << bodiless;
    EXPECT_TRUE(answer.content_type.empty()) << bodiless;
  }
  // Control bytes and non-token names are refused, not passed on.
  for (const char* bad : {R"({"statusCode": 200, "headers": {"X-A": "a\u0000b"}})",
                          R"({"statusCode": 200, "headers": {"X\u0000B": "v"}})",
                          R"({"statusCode": 200, "headers": {"X-C": "\u000bx"}})",
                          R"json({"statusCode": 200, "headers": {"X(B)": "v"}})json",
                          R"({"statusCode": 200, "cookies": ["a=b\u0000c"]})",
                          R"({"statusCode": 200, "cookies": [""]})"}) {
    EXPECT_EQ(url_answer_from_result(bad).status, 502u) << bad;
  }
  // The front door's own fields and the connection's are not the function's.
  auto answer = url_answer_from_result(
      R"({"statusCode": 200, "headers": {"x-amzn-RequestId": "fake", "Keep-Alive": "1",)"
      R"( "Upgrade": "websocket", "Trailer": "X", "X-Kept": "yes"}})");
  ASSERT_EQ(answer.status, 200u);
  ASSERT_EQ(answer.headers.size(), 1u);
  EXPECT_EQ(answer.headers[0].first, "X-Kept");
}

TEST(FunctionUrlCors, PreflightAndNormalAnswers) {
  api::FunctionUrlConfig url;
  url.set_enabled(true);
  url.add_cors_allow_origins("https://app.example.com");
  url.add_cors_allow_methods("GET");
  url.add_cors_allow_methods("POST");
  url.add_cors_allow_headers("x-token");
  url.add_cors_expose_headers("x-request-id");
  url.set_cors_max_age_s(600);
  HttpRequest preflight;
  preflight.method = "OPTIONS";
  preflight.headers = {{"Origin", "https://app.example.com"},
                       {"Access-Control-Request-Method", "POST"}};
  auto header = [](const HttpAnswer& answer, const std::string& name) {
    for (const auto& [field, value] : answer.headers)
      if (field == name) return value;
    return std::string("<absent>");
  };
  auto answer = cors_preflight(preflight, url);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200u);
  EXPECT_EQ(header(*answer, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(header(*answer, "Access-Control-Allow-Methods"), "GET,POST");
  EXPECT_EQ(header(*answer, "Access-Control-Allow-Headers"), "x-token");
  EXPECT_EQ(header(*answer, "Access-Control-Max-Age"), "600");

  auto stranger = preflight;
  stranger.headers[0].second = "https://evil.example.com";
  auto refused = cors_preflight(stranger, url);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(header(*refused, "Access-Control-Allow-Origin"), "<absent>");

  api::FunctionUrlConfig no_cors;
  no_cors.set_enabled(true);
  EXPECT_FALSE(cors_preflight(preflight, no_cors).has_value()) << "goes to the function";
  auto not_preflight = preflight;
  not_preflight.headers.pop_back();
  EXPECT_FALSE(cors_preflight(not_preflight, url).has_value());

  HttpRequest normal;
  normal.method = "GET";
  normal.headers = {{"Origin", "https://app.example.com"}};
  HttpAnswer from_function;
  from_function.headers = {{"Access-Control-Allow-Origin", "*"}, {"X-Own", "1"}};
  add_cors_headers(normal, url, from_function);
  EXPECT_EQ(header(from_function, "Access-Control-Allow-Origin"), "https://app.example.com")
      << "the URL's CORS wins over the function's";
  EXPECT_EQ(header(from_function, "Access-Control-Expose-Headers"), "x-request-id");
  EXPECT_EQ(header(from_function, "X-Own"), "1");

  api::FunctionUrlConfig any;
  any.set_enabled(true);
  any.add_cors_allow_origins("*");
  HttpAnswer star;
  add_cors_headers(normal, any, star);
  EXPECT_EQ(header(star, "Access-Control-Allow-Origin"), "*");
  any.set_cors_allow_credentials(true);
  HttpAnswer credentialed;
  add_cors_headers(normal, any, credentialed);
  EXPECT_EQ(header(credentialed, "Access-Control-Allow-Origin"), "https://app.example.com")
      << "browsers refuse * with credentials";
  EXPECT_EQ(header(credentialed, "Access-Control-Allow-Credentials"), "true");
}

}  // namespace
}  // namespace sprout::http
