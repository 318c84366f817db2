#include "http/management/lambda_configuration.h"

#include <openssl/sha.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <vector>

#include "http/encoding.h"
#include "http/function_name.h"
#include "http/json.h"

namespace sprout::http {

std::string management_function_arn(std::string_view name) {
  return function_arn(kManagementRegion, name);
}

std::string lambda_runtime_name(api::Runtime runtime) {
  switch (runtime) {
    case api::PYTHON3:
      return "python3.11";
    case api::NATIVE:
      return "native";
    case api::EXEC:
      return "exec";
    default:
      return "unknown";
  }
}

std::string lambda_timestamp(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char millis[16];
  std::snprintf(millis, sizeof millis, ".%03d+0000", static_cast<int>(unix_ms % 1000));
  return std::string(text, length) + millis;
}

std::string function_configuration_json(const api::FunctionInfo& info,
                                        const std::optional<std::string>& code_sha256) {
  const api::FunctionSpec& spec = info.spec();
  JsonObjectWriter variables;
  for (const auto& [key, value] : std::map<std::string, std::string>(spec.env().begin(),
                                                                      spec.env().end()))
    variables.string(key, value);
  JsonObjectWriter out;
  out.string("FunctionName", spec.name())
      .string("FunctionArn", management_function_arn(spec.name()))
      .string("Runtime", lambda_runtime_name(spec.runtime()))
      .string("Role", kFunctionRole)
      .string("Handler", spec.handler())
      .integer("CodeSize", static_cast<int64_t>(info.code_size()))
      .string("Description", "")
      // Lambda counts whole seconds; a socket-deployed 1500 ms shows as 2.
      .integer("Timeout", (int64_t{spec.timeout_ms()} + 999) / 1000)
      .integer("MemorySize", spec.memory_mb())
      .string("LastModified", lambda_timestamp(info.deployed_unix_ms()));
  if (code_sha256) out.string("CodeSha256", *code_sha256);
  out.string("Version", "$LATEST")
      .raw("Environment", JsonObjectWriter().raw("Variables", variables.str()).str())
      .raw("TracingConfig", JsonObjectWriter().string("Mode", "PassThrough").str())
      .string("State", "Active")
      .string("LastUpdateStatus", "Successful")
      .string("PackageType", "Zip")
      .raw("Architectures", json_string_array({"x86_64"}));
  return out.str();
}

std::string code_sha256(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

}  // namespace sprout::http
