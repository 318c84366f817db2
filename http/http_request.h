// One HTTP request as the front door's logic sees it, apart from Beast: the
// router, the SigV4 verifier and the function-URL event builder take this,
// so that each can be tested without a socket.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sprout::http {

struct HttpRequest {
  std::string method;     // "POST", as received (methods are case-sensitive)
  std::string raw_path;   // the target before '?', still percent-encoded
  std::string raw_query;  // the target after '?', still percent-encoded
  // Every header field in order of arrival, names as the client spelled
  // them; a repeated field appears once per occurrence.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer_address;  // "127.0.0.1", "::1"
  bool peer_loopback = false;
  int http_version = 11;     // 10 or 11

  // The values of the field `name` (case-insensitive), in order.
  std::vector<std::string> header_values(std::string_view name) const;
  // The first value of `name`, or "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const { return !header_values(name).empty(); }
};

}  // namespace sprout::http
