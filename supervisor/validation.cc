#include "supervisor/validation.h"

#include <regex>
#include <set>
#include <string_view>

namespace sprout::supervisor {
namespace {

const std::regex kName("[A-Za-z0-9_-]{1,64}");
const std::regex kEnvKey("[A-Za-z_][A-Za-z0-9_]{0,127}");
const std::regex kModule("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*");
const std::regex kPythonHandler(
    "[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*\\.[A-Za-z_][A-Za-z0-9_]*");
const std::regex kBundlePath("[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*");

constexpr size_t kMaxEnvBytes = 4096;  // Lambda's limit for environment variables
// std::regex matches by recursion, one level per character: a field is
// bounded before a regex sees it, or a long one overflows a worker's stack.
constexpr size_t kMaxHandlerBytes = 1024;
constexpr size_t kMaxFileNameBytes = 255;

// Lambda's limits on a function URL's CORS configuration.
constexpr int kMaxCorsEntries = 100;
constexpr size_t kMaxCorsEntryBytes = 1024;
constexpr uint32_t kMaxCorsMaxAgeS = 86400;

// An HTTP token (RFC 9110): what a header name may be.
bool is_http_token(const std::string& text) {
  if (text.empty() || text.size() > kMaxCorsEntryBytes) return false;
  for (char c : text) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      return false;
  }
  return true;
}

// "*" or scheme://host[:port] with http or https, as a browser sends it in
// Origin (no path, no whitespace).
bool is_cors_origin(const std::string& origin) {
  if (origin == "*") return true;
  if (origin.size() > kMaxCorsEntryBytes) return false;
  size_t rest;
  if (origin.starts_with("https://")) {
    rest = 8;
  } else if (origin.starts_with("http://")) {
    rest = 7;
  } else {
    return false;
  }
  if (rest == origin.size()) return false;
  for (size_t i = rest; i < origin.size(); ++i) {
    const char c = origin[i];
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '.' && c != '-' && c != ':' && c != '[' && c != ']' && c != '*')
      return false;
  }
  return true;
}

// Empty when the function URL's settings are valid.
std::string validate_function_url(const api::FunctionUrlConfig& url) {
  const bool has_cors = !url.cors_allow_origins().empty() || !url.cors_allow_methods().empty() ||
                        !url.cors_allow_headers().empty() || !url.cors_expose_headers().empty() ||
                        url.cors_max_age_s() != 0 || url.cors_allow_credentials();
  if (!url.enabled() && has_cors) return "url CORS settings are given but url.enabled is false";
  if (url.cors_allow_origins_size() > kMaxCorsEntries ||
      url.cors_allow_methods_size() > kMaxCorsEntries ||
      url.cors_allow_headers_size() > kMaxCorsEntries ||
      url.cors_expose_headers_size() > kMaxCorsEntries)
    return "url CORS lists take at most 100 entries each";
  for (const auto& origin : url.cors_allow_origins()) {
    if (!is_cors_origin(origin))
      return "url.cors_allow_origins: '" + origin + "' is not \"*\" or http(s)://host[:port]";
  }
  static const std::set<std::string> kMethods = {"GET",   "PUT",    "HEAD",    "POST",
                                                 "PATCH", "DELETE", "OPTIONS", "*"};
  for (const auto& method : url.cors_allow_methods()) {
    if (!kMethods.contains(method))
      return "url.cors_allow_methods: '" + method +
             "' is not one of GET, PUT, HEAD, POST, PATCH, DELETE, OPTIONS, *";
  }
  for (const auto& header : url.cors_allow_headers()) {
    if (!is_http_token(header))
      return "url.cors_allow_headers: '" + header + "' is not a header name";
  }
  for (const auto& header : url.cors_expose_headers()) {
    if (!is_http_token(header))
      return "url.cors_expose_headers: '" + header + "' is not a header name";
  }
  if (url.cors_max_age_s() > kMaxCorsMaxAgeS) return "url.cors_max_age_s must be at most 86400";
  return {};
}

}  // namespace

bool is_valid_function_name(const std::string& name) { return std::regex_match(name, kName); }

bool is_valid_tenant_name(const std::string& tenant) { return std::regex_match(tenant, kName); }

std::string effective_tenant(const api::FunctionSpec& spec) {
  return spec.tenant().empty() ? "fn:" + spec.name() : spec.tenant();
}

std::string validate_function_spec(const api::FunctionSpec& spec) {
  if (!is_valid_function_name(spec.name()))
    return "function name must match [A-Za-z0-9_-]{1,64}: '" + spec.name() + "'";
  if (!spec.tenant().empty() && !is_valid_tenant_name(spec.tenant()))
    return "tenant must match [A-Za-z0-9_-]{1,64}, or be empty: '" + spec.tenant() + "'";
  if (spec.runtime() == api::RUNTIME_UNSPECIFIED || !api::Runtime_IsValid(spec.runtime()))
    return "runtime must be python3, native or exec";
  if (spec.handler().empty()) return "handler is required";
  if (spec.handler().size() > kMaxHandlerBytes) return "handler longer than 1024 bytes";
  if (spec.runtime() == api::PYTHON3 && !std::regex_match(spec.handler(), kPythonHandler)) {
    return "python3 handler must be module.function: '" + spec.handler() + "'";
  }
  if (spec.runtime() != api::PYTHON3 && (!std::regex_match(spec.handler(), kBundlePath) ||
                                         spec.handler().find("..") != std::string::npos)) {
    return "handler must be a path inside the code bundle: '" + spec.handler() + "'";
  }
  if (spec.code().empty()) return "code is empty";
  if (spec.code_format() == api::SINGLE_FILE) {
    const std::string& file = spec.code_file_name();
    if (file.size() > kMaxFileNameBytes || file == "." || file == ".." ||
        !std::regex_match(file, kBundlePath) || file.find('/') != std::string::npos) {
      return "code_file_name must be a plain file name: '" + spec.code_file_name() + "'";
    }
  } else if (spec.code_format() != api::TAR && spec.code_format() != api::ZIP) {
    return "code_format must be SINGLE_FILE, TAR or ZIP";
  }
  if (spec.memory_mb() != 0 && (spec.memory_mb() < 16 || spec.memory_mb() > 10240))
    return "memory_mb must be 16..10240";
  if (spec.timeout_ms() > 900000) return "timeout_ms must be at most 900000";
  if (spec.max_concurrency() > 1000) return "max_concurrency must be at most 1000";
  if (spec.prefork_max() > 64) return "prefork_max must be at most 64";
  // prefork_max 0 takes max(4, prefork_min): bounded here, not there.
  if (spec.prefork_min() > 64) return "prefork_min must be at most 64";
  if (spec.prefork_max() != 0 && spec.prefork_min() > spec.prefork_max())
    return "prefork_min must not exceed prefork_max";
  size_t env_bytes = 0;
  for (const auto& [key, value] : spec.env()) {
    if (!std::regex_match(key, kEnvKey))
      return "environment variable name not allowed: '" + key + "'";
    if (value.find('\0') != std::string::npos)
      return "environment value of " + key + " contains NUL";
    env_bytes += key.size() + value.size();
  }
  if (env_bytes > kMaxEnvBytes) return "environment larger than 4 KiB";
  for (const auto& module : spec.pre_imports()) {
    if (module.size() > kMaxHandlerBytes || !std::regex_match(module, kModule))
      return "pre_import is not a module name: '" + module + "'";
  }
  if (auto async = validate_async_config(spec.name(), spec.async()); !async.empty()) return async;
  return validate_function_url(spec.url());
}

std::string validate_async_config(const std::string& function, const api::AsyncConfig& async) {
  // Lambda's bounds (PutFunctionEventInvokeConfig).
  if (async.has_max_retry_attempts() && async.max_retry_attempts() > 2)
    return "async.max_retry_attempts must be 0..2";
  if (async.max_event_age_s() != 0 &&
      (async.max_event_age_s() < 60 || async.max_event_age_s() > 21600))
    return "async.max_event_age_s must be 60..21600 (0: 21600)";
  if (!async.on_failure().empty()) {
    if (!is_valid_function_name(async.on_failure()))
      return "async.on_failure must be a function name: '" + async.on_failure() + "'";
    // A function that is its own destination would feed each failure
    // record back to itself for ever.
    if (async.on_failure() == function) return "async.on_failure must name another function";
  }
  return {};
}

void apply_function_defaults(api::FunctionSpec& spec) {
  if (spec.memory_mb() == 0) spec.set_memory_mb(128);
  if (spec.timeout_ms() == 0) spec.set_timeout_ms(3000);
  if (spec.max_concurrency() == 0) spec.set_max_concurrency(16);
  if (spec.no_prefork()) {
    spec.set_prefork_min(0);
    spec.set_prefork_max(0);
  } else if (spec.prefork_max() == 0) {
    spec.set_prefork_max(std::max<uint32_t>(4, spec.prefork_min()));
  }
}

}  // namespace sprout::supervisor
