// The AWS Lambda function-management routes that a deploy script uses
// (CreateFunction, GetFunction, ListFunctions, DeleteFunction,
// UpdateFunctionCode, UpdateFunctionConfiguration), translated onto
// sproutd's FunctionManager. Called by the HTTP front door (http/).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sprout::supervisor {
class FunctionManager;
}

namespace sprout::http {

// One HTTP answer, before the front door writes it.
struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // beside Content-Type/Length
  std::string body;
};

// An error as AWS sends it: `x-amzn-ErrorType: <type>` and
// {"Type": "User"|"Service", "message": "..."} (AWS's JSON error shape).
HttpAnswer aws_error(unsigned status, std::string_view type, std::string_view message);

// Answers a management route; std::nullopt when (method, path) is not one of
// them (the Invoke route is not: the front door handles it). `path` is the
// URL-decoded path without the query; `query` the raw query string.
std::optional<HttpAnswer> handle_lambda_management(std::string_view method, std::string_view path,
                                                   std::string_view query, std::string_view body,
                                                   supervisor::FunctionManager& manager);

}  // namespace sprout::http
