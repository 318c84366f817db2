#include "http/function_name.h"

#include <vector>

#include "supervisor/validation.h"

namespace sprout::http {
namespace {

std::vector<std::string_view> split_colons(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(':', start);
    parts.push_back(text.substr(start, at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

bool all_of(std::string_view text, bool (*allowed)(char)) {
  for (char c : text)
    if (!allowed(c)) return false;
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alias_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
}

// $LATEST, a version number, or an alias name (Lambda's pattern).
bool is_valid_qualifier(std::string_view qualifier) {
  if (qualifier == "$LATEST") return true;
  return !qualifier.empty() && qualifier.size() <= 128 && all_of(qualifier, is_alias_char);
}

}  // namespace

FunctionReference parse_function_reference(std::string_view function_name,
                                           std::string_view query_qualifier) {
  FunctionReference ref;
  const auto parts = split_colons(function_name);
  std::string_view name, qualifier;
  bool has_qualifier = false;
  if (parts.size() >= 7 && parts[0] == "arn") {
    // arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    if (parts.size() > 8 || parts[2] != "lambda" || parts[5] != "function" ||
        !all_of(parts[4], is_digit) || parts[4].size() != 12) {
      ref.error = "FunctionName '" + std::string(function_name) +
                  "' is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)";
      return ref;
    }
    name = parts[6];
    has_qualifier = parts.size() == 8;
    if (has_qualifier) qualifier = parts[7];
  } else if (parts.size() >= 3 && parts[1] == "function") {
    // ACCOUNT:function:NAME[:QUALIFIER]
    if (parts.size() > 4 || parts[0].size() != 12 || !all_of(parts[0], is_digit)) {
      ref.error = "FunctionName '" + std::string(function_name) +
                  "' is not a partial ARN (ACCOUNT:function:NAME)";
      return ref;
    }
    name = parts[2];
    has_qualifier = parts.size() == 4;
    if (has_qualifier) qualifier = parts[3];
  } else if (parts.size() <= 2) {
    name = parts[0];
    has_qualifier = parts.size() == 2;
    if (has_qualifier) qualifier = parts[1];
  } else {
    ref.error = "FunctionName '" + std::string(function_name) + "' is malformed";
    return ref;
  }
  if (!supervisor::is_valid_function_name(std::string(name))) {
    ref.error = "FunctionName '" + std::string(name) +
                "' is not a valid function name ([a-zA-Z0-9_-]{1,64})";
    return ref;
  }
  if (has_qualifier && !is_valid_qualifier(qualifier)) {
    ref.error = "Qualifier '" + std::string(qualifier) + "' is malformed";
    return ref;
  }
  if (!query_qualifier.empty()) {
    if (!is_valid_qualifier(query_qualifier)) {
      ref.error = "Qualifier '" + std::string(query_qualifier) + "' is malformed";
      return ref;
    }
    if (has_qualifier && qualifier != query_qualifier) {
      ref.error = "The derived qualifier from the function name does not match the specified "
                  "qualifier.";
      return ref;
    }
    qualifier = query_qualifier;
  }
  ref.name = name;
  ref.qualifier = qualifier;
  return ref;
}

std::string function_arn(std::string_view region, std::string_view name,
                         std::string_view qualifier) {
  std::string arn = "arn:aws:lambda:" + std::string(region) + ":" + std::string(kAccountId) +
                    ":function:" + std::string(name);
  if (!qualifier.empty()) arn += ":" + std::string(qualifier);
  return arn;
}

}  // namespace sprout::http
