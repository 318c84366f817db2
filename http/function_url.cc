#include "http/function_url.h"

#include <cctype>

#include <strings.h>

#include <ctime>
#include <map>
#include <vector>

#include "http/encoding.h"
#include "http/function_name.h"
#include "http/json.h"

namespace sprout::http {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string join(const google::protobuf::RepeatedPtrField<std::string>& values) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += ',';
    out += value;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// The value for Access-Control-Allow-Origin, or "" when `origin` is not
// allowed. "*" is answered as the origin itself when credentials are
// allowed (browsers refuse "*" with credentials).
std::string allowed_origin(const api::FunctionUrlConfig& url, std::string_view origin) {
  for (const auto& allowed : url.cors_allow_origins()) {
    if (allowed == "*") return url.cors_allow_credentials() ? std::string(origin) : "*";
    if (iequals(allowed, origin)) return std::string(origin);
  }
  return {};
}

HttpAnswer bad_gateway(std::string_view why) {
  HttpAnswer answer;
  answer.status = 502;
  answer.headers.emplace_back("x-amzn-ErrorType", "InvalidResponse");
  // What went wrong goes beside Lambda's words: the caller is the
  // function's own user, debugging it.
  answer.body =
      JsonObjectWriter().string("message", "Internal Server Error").string("detail", why).str();
  return answer;
}

// A header value the function gave: strings as they are, numbers and
// booleans as their JSON text.
std::optional<std::string> header_value(const JsonValue& value) {
  if (value.is_string()) return value.as_string();
  if (value.is_number() || value.is_bool()) return value.dump();
  return std::nullopt;
}

}  // namespace

std::string format_request_time(std::chrono::system_clock::time_point when) {
  const time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[48];
  std::snprintf(text, sizeof text, "%02d/%s/%04d:%02d:%02d:%02d +0000", parts.tm_mday,
                kMonths[parts.tm_mon], parts.tm_year + 1900, parts.tm_hour, parts.tm_min,
                parts.tm_sec);
  return text;
}

bool is_text_content_type(std::string_view content_type) {
  std::string type = to_lower_ascii(trim(content_type.substr(0, content_type.find(';'))));
  if (type.starts_with("text/")) return true;
  static constexpr std::string_view kTextTypes[] = {
      "application/json",       "application/xml",  "application/javascript",
      "application/x-www-form-urlencoded", "application/yaml", "application/x-yaml",
      "application/graphql",    "application/ecmascript"};
  for (std::string_view text_type : kTextTypes)
    if (type == text_type) return true;
  return type.ends_with("+json") || type.ends_with("+xml");
}

std::string build_url_event(const HttpRequest& request, const UrlEventContext& context) {
  // Headers: lower-cased, repeated ones comma-joined, in order of first
  // arrival; cookies travel apart, as API Gateway sends them.
  std::vector<std::string> header_order;
  std::map<std::string, std::string> header_values;
  std::vector<std::string> cookies;
  for (const auto& [name, value] : request.headers) {
    const std::string lower = to_lower_ascii(name);
    if (lower == "cookie") {
      std::string_view rest = value;
      while (!rest.empty()) {
        const size_t semicolon = rest.find(';');
        const std::string_view cookie = trim(rest.substr(0, semicolon));
        if (!cookie.empty()) cookies.emplace_back(cookie);
        if (semicolon == std::string_view::npos) break;
        rest.remove_prefix(semicolon + 1);
      }
      continue;
    }
    auto [it, inserted] = header_values.emplace(lower, value);
    if (inserted) {
      header_order.push_back(lower);
    } else {
      it->second += "," + value;
    }
  }
  JsonObjectWriter headers;
  for (const auto& name : header_order) headers.string(name, header_values[name]);

  std::vector<std::string> query_order;
  std::map<std::string, std::string> query_values;
  for (const auto& [raw_name, raw_value] : split_query(request.raw_query)) {
    const std::string name = percent_decode(raw_name), value = percent_decode(raw_value);
    auto [it, inserted] = query_values.emplace(name, value);
    if (inserted) {
      query_order.push_back(name);
    } else {
      it->second += "," + value;
    }
  }

  const std::string host = request.header("host");
  const std::string domain = host.empty() ? "localhost" : host.substr(0, host.rfind(':'));
  const auto epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            context.now.time_since_epoch())
                            .count();
  JsonObjectWriter http;
  http.string("method", request.method)
      .string("path", context.raw_path)
      .string("protocol", request.http_version == 10 ? "HTTP/1.0" : "HTTP/1.1")
      .string("sourceIp", request.peer_address)
      .string("userAgent", request.header("user-agent"));
  JsonObjectWriter request_context;
  request_context.string("accountId", kAccountId)
      .string("apiId", context.function_name)
      .string("domainName", domain)
      .string("domainPrefix", domain.substr(0, domain.find('.')))
      .raw("http", http.str())
      .string("requestId", context.request_id)
      .string("routeKey", "$default")
      .string("stage", "$default")
      .string("time", format_request_time(context.now))
      .integer("timeEpoch", epoch_ms);

  JsonObjectWriter event;
  event.string("version", "2.0")
      .string("routeKey", "$default")
      .string("rawPath", context.raw_path)
      .string("rawQueryString", request.raw_query);
  if (!cookies.empty()) event.raw("cookies", json_string_array(cookies));
  event.raw("headers", headers.str());
  if (!query_order.empty()) {
    JsonObjectWriter query;
    for (const auto& name : query_order) query.string(name, query_values[name]);
    event.raw("queryStringParameters", query.str());
  }
  event.raw("requestContext", request_context.str());
  const bool as_text =
      is_text_content_type(request.header("content-type")) && is_valid_utf8(request.body);
  if (!request.body.empty())
    event.string("body", as_text ? request.body : base64_encode(request.body));
  event.boolean("isBase64Encoded", !request.body.empty() && !as_text);
  return event.str();
}

namespace {

// RFC 9110 5.1: a field name is a token.
bool is_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    const bool tchar = std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                              std::string_view::npos;
    if (!tchar) return false;
  }
  return true;
}

// RFC 9110 5.5: visible characters, spaces and tabs; no control bytes.
bool is_header_value(std::string_view value) {
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// Fields a function may not set: the front door's framing and request id,
// and the hop-by-hop fields of the connection.
bool is_front_door_header(const std::string& lower) {
  static const std::string_view kReserved[] = {
      "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
      "trailer",        "te",                "proxy-connection"};
  for (std::string_view reserved : kReserved)
    if (lower == reserved) return true;
  return lower.starts_with("x-amzn-") || lower.starts_with("proxy-");
}

}  // namespace

HttpAnswer url_answer_from_result(std::string_view result) {
  std::string problem;
  auto parsed = parse_json(result, &problem);
  if (!parsed) return bad_gateway("the function's result is not JSON: " + problem);
  const JsonValue* status_code = parsed->is_object() ? parsed->find("statusCode") : nullptr;
  if (!status_code) {
    HttpAnswer answer;
    answer.status = 200;
    answer.content_type = "application/json";
    answer.body = std::string(result);
    return answer;
  }
  const auto status = status_code->as_integer();
  // A final status only: an interim one (1xx) with a body would let the
  // function write what the client reads as the real answer's head.
  if (!status || *status < 200 || *status > 599)
    return bad_gateway("statusCode is not a final HTTP status (200..599)");
  HttpAnswer answer;
  answer.status = static_cast<unsigned>(*status);
  answer.content_type = "application/json";
  if (const JsonValue* headers = parsed->find("headers"); headers && !headers->is_null()) {
    if (!headers->is_object()) return bad_gateway("headers is not an object");
    for (const auto& [name, value] : headers->members()) {
      auto text = header_value(value);
      if (!text) return bad_gateway("header '" + name + "' is not a string");
      if (!is_header_name(name) || !is_header_value(*text))
        return bad_gateway("header '" + name + "' is malformed");
      // The front door frames the answer and names the request itself; the
      // hop-by-hop fields are the connection's, not the function's.
      if (is_front_door_header(to_lower_ascii(name))) continue;
      const std::string lower = to_lower_ascii(name);
      if (lower == "content-type") {
        answer.content_type = *text;
      } else {
        answer.headers.emplace_back(name, *text);
      }
    }
  }
  if (const JsonValue* cookies = parsed->find("cookies"); cookies && !cookies->is_null()) {
    if (!cookies->is_array()) return bad_gateway("cookies is not an array");
    for (const auto& cookie : cookies->items()) {
      if (!cookie.is_string() || cookie.as_string().empty() || !is_header_value(cookie.as_string()))
        return bad_gateway("a cookie is not a non-empty string of header characters");
      answer.headers.emplace_back("Set-Cookie", cookie.as_string());
    }
  }
  const JsonValue* body = parsed->find("body");
  std::string text;
  if (body && body->is_string()) {
    text = body->as_string();
  } else if (body && !body->is_null()) {
    text = body->dump();
  }
  const JsonValue* base64 = parsed->find("isBase64Encoded");
  if (base64 && base64->is_bool() && base64->as_bool()) {
    auto decoded = base64_decode(text);
    if (!decoded) return bad_gateway("body is not base64 although isBase64Encoded is true");
    text = std::move(*decoded);
  }
  // These statuses have no body on the wire (RFC 9110 15.3.5, 15.4.5).
  if (answer.status == 204 || answer.status == 304) {
    text.clear();
    answer.content_type.clear();
  }
  answer.body = std::move(text);
  return answer;
}

HttpAnswer url_function_failed() { return bad_gateway("the function failed"); }

std::optional<HttpAnswer> cors_preflight(const HttpRequest& request,
                                         const api::FunctionUrlConfig& url) {
  if (request.method != "OPTIONS" || url.cors_allow_origins().empty()) return std::nullopt;
  const std::string origin = request.header("origin");
  if (origin.empty() || !request.has_header("access-control-request-method")) return std::nullopt;
  HttpAnswer answer;
  answer.status = 200;
  answer.content_type.clear();
  answer.headers.emplace_back("Vary", "Origin");
  const std::string allow = allowed_origin(url, origin);
  if (allow.empty()) return answer;  // no CORS headers: the browser refuses
  answer.headers.emplace_back("Access-Control-Allow-Origin", allow);
  if (!url.cors_allow_methods().empty())
    answer.headers.emplace_back("Access-Control-Allow-Methods", join(url.cors_allow_methods()));
  if (!url.cors_allow_headers().empty())
    answer.headers.emplace_back("Access-Control-Allow-Headers", join(url.cors_allow_headers()));
  if (url.cors_max_age_s() > 0)
    answer.headers.emplace_back("Access-Control-Max-Age", std::to_string(url.cors_max_age_s()));
  if (url.cors_allow_credentials())
    answer.headers.emplace_back("Access-Control-Allow-Credentials", "true");
  return answer;
}

void add_cors_headers(const HttpRequest& request, const api::FunctionUrlConfig& url,
                      HttpAnswer& answer) {
  if (url.cors_allow_origins().empty()) return;
  // With CORS configured, the URL's answer wins over the function's.
  std::erase_if(answer.headers, [](const auto& header) {
    return starts_with_ci(header.first, "access-control-");
  });
  const std::string origin = request.header("origin");
  if (origin.empty()) return;
  answer.headers.emplace_back("Vary", "Origin");
  const std::string allow = allowed_origin(url, origin);
  if (allow.empty()) return;
  answer.headers.emplace_back("Access-Control-Allow-Origin", allow);
  if (!url.cors_expose_headers().empty())
    answer.headers.emplace_back("Access-Control-Expose-Headers", join(url.cors_expose_headers()));
  if (url.cors_allow_credentials())
    answer.headers.emplace_back("Access-Control-Allow-Credentials", "true");
}

}  // namespace sprout::http
