#include "http/http_request.h"

#include <strings.h>

namespace sprout::http {

std::vector<std::string> HttpRequest::header_values(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [field, value] : headers) {
    if (field.size() == name.size() && strncasecmp(field.data(), name.data(), name.size()) == 0)
      values.push_back(value);
  }
  return values;
}

std::string HttpRequest::header(std::string_view name) const {
  auto values = header_values(name);
  return values.empty() ? std::string() : values.front();
}

}  // namespace sprout::http
