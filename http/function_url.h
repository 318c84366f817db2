// Function URLs (/fn/{name}/{path...}): the request as an API Gateway HTTP
// API payload format 2.0 event, the function's result mapped back to an
// HTTP answer as Lambda function URLs map it, and the CORS answers of the
// function's FunctionUrlConfig. Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"
#include "http/http_request.h"
#include "http/management/lambda_management.h"

namespace sprout::http {

struct UrlEventContext {
  std::string function_name;
  std::string raw_path;  // the request's path without /fn/{name}: "/" at least
  std::string request_id;
  std::chrono::system_clock::time_point now;
};

// The payload 2.0 event (JSON text) for `request`.
std::string build_url_event(const HttpRequest& request, const UrlEventContext& context);

// Whether a body of this Content-Type travels as text (else base64):
// text/*, JSON, XML, JavaScript, form-urlencoded, YAML, and their +json /
// +xml variants.
bool is_text_content_type(std::string_view content_type);

// The answer for a function's result (its JSON-encoded return value): an
// object with "statusCode" gives the status, "headers", "cookies" (one
// Set-Cookie each), "body" and "isBase64Encoded"; any other JSON value is
// answered 200 with that JSON as an application/json body. A result that
// is not JSON, or a malformed statusCode object, is a 502.
HttpAnswer url_answer_from_result(std::string_view result);

// The 502 that a function URL answers for a failed invocation.
HttpAnswer url_function_failed();

// The answer to a CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) when the function's URL has CORS
// configured; nullopt otherwise (the request then goes to the function).
std::optional<HttpAnswer> cors_preflight(const HttpRequest& request,
                                         const api::FunctionUrlConfig& url);

// On a normal answer: the CORS headers when the request's Origin is
// allowed (replacing any the function set).
void add_cors_headers(const HttpRequest& request, const api::FunctionUrlConfig& url,
                      HttpAnswer& answer);

// "12/Mar/2020:19:03:58 +0000", as requestContext.time.
std::string format_request_time(std::chrono::system_clock::time_point when);

}  // namespace sprout::http
