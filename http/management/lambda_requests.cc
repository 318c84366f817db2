#include "http/management/lambda_requests.h"

#include <optional>
#include <regex>

#include "http/encoding.h"
#include "http/function_name.h"
#include "http/json.h"

namespace sprout::http {
namespace {

const std::regex kPython3Runtime("python3\\.[0-9]{1,2}");
constexpr int64_t kMaxTimeoutSeconds = 900;
constexpr int64_t kMinMemoryMb = 16;  // sprout's floor; Lambda's is 128
constexpr int64_t kMaxMemoryMb = 10240;

using Fault = std::unexpected<AwsFault>;

Fault fault(AwsFault f) { return std::unexpected(std::move(f)); }

std::expected<JsonValue, AwsFault> read_object(std::string_view body) {
  std::string error;
  auto value = parse_json(body, &error);
  if (!value)
    return fault({400, "InvalidRequestContentException",
                  "Could not parse request body into json: " + error});
  if (!value->is_object())
    return fault({400, "InvalidRequestContentException", "the request body must be a JSON object"});
  return std::move(*value);
}

// A string member, nullopt when absent; a fault when it is not a string.
std::expected<std::optional<std::string>, AwsFault> string_member(const JsonValue& object,
                                                                  std::string_view key) {
  const JsonValue* value = object.find(key);
  if (!value || value->is_null()) return std::optional<std::string>();
  if (!value->is_string()) return fault(invalid_parameter(std::string(key) + " must be a string"));
  return std::optional<std::string>(value->as_string());
}

std::expected<std::optional<int64_t>, AwsFault> integer_member(const JsonValue& object,
                                                               std::string_view key, int64_t low,
                                                               int64_t high,
                                                               std::string_view unit) {
  const JsonValue* value = object.find(key);
  if (!value || value->is_null()) return std::optional<int64_t>();
  auto number = value->is_number() ? value->as_integer() : std::nullopt;
  if (!number || *number < low || *number > high) {
    return fault(invalid_parameter(std::string(key) + " must be an integer from " +
                                   std::to_string(low) + " to " + std::to_string(high) + " " +
                                   std::string(unit)));
  }
  return number;
}

// Code.ZipFile / ZipFile: base64 of a non-empty .zip.
std::expected<std::string, AwsFault> decode_zip_file(const JsonValue& holder) {
  for (std::string_view other : {"S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri"}) {
    if (holder.find(other) && !holder.find(other)->is_null())
      return fault(invalid_parameter("sprout takes the code as ZipFile only, not " +
                                     std::string(other)));
  }
  auto text = string_member(holder, "ZipFile");
  if (!text) return fault(text.error());
  if (!*text || (*text)->empty()) return fault(invalid_parameter("ZipFile is required"));
  auto bytes = base64_decode(**text);
  if (!bytes) return fault(invalid_parameter("ZipFile is not valid base64"));
  if (bytes->empty()) return fault(invalid_parameter("ZipFile is empty"));
  return std::move(*bytes);
}

std::expected<void, AwsFault> read_environment(const JsonValue& body, api::FunctionSpec& spec) {
  const JsonValue* environment = body.find("Environment");
  if (!environment || environment->is_null()) return {};
  if (!environment->is_object()) return fault(invalid_parameter("Environment must be an object"));
  spec.clear_env();
  const JsonValue* variables = environment->find("Variables");
  if (!variables || variables->is_null()) return {};
  if (!variables->is_object())
    return fault(invalid_parameter("Environment.Variables must be an object"));
  for (const auto& [key, value] : variables->members()) {
    if (!value.is_string())
      return fault(invalid_parameter("Environment.Variables." + key + " must be a string"));
    (*spec.mutable_env())[key] = value.as_string();
  }
  return {};
}

// MemorySize, Timeout, Environment and Handler, shared by create and update.
std::expected<void, AwsFault> read_settings(const JsonValue& body, api::FunctionSpec& spec) {
  auto memory = integer_member(body, "MemorySize", kMinMemoryMb, kMaxMemoryMb, "MiB");
  if (!memory) return fault(memory.error());
  if (*memory) spec.set_memory_mb(static_cast<uint32_t>(**memory));
  auto timeout = integer_member(body, "Timeout", 1, kMaxTimeoutSeconds, "seconds");
  if (!timeout) return fault(timeout.error());
  if (*timeout) spec.set_timeout_ms(static_cast<uint32_t>(**timeout * 1000));
  auto handler = string_member(body, "Handler");
  if (!handler) return fault(handler.error());
  if (*handler) spec.set_handler(**handler);
  return read_environment(body, spec);
}

// What sprout cannot honour is refused rather than silently dropped: a
// function without its layers or file systems would not run as written.
std::expected<void, AwsFault> refuse_unsupported(const JsonValue& body) {
  for (std::string_view key : {"Layers", "FileSystemConfigs"}) {
    const JsonValue* value = body.find(key);
    if (value && value->is_array() && !value->items().empty())
      return fault(invalid_parameter("sprout does not support " + std::string(key)));
  }
  if (const JsonValue* image = body.find("ImageConfig"); image && !image->is_null())
    return fault(invalid_parameter("sprout does not support ImageConfig (container images)"));
  if (const JsonValue* architectures = body.find("Architectures");
      architectures && !architectures->is_null()) {
    if (!architectures->is_array()) return fault(invalid_parameter("Architectures must be a list"));
    for (const JsonValue& item : architectures->items()) {
      if (!item.is_string() || item.as_string() != "x86_64")
        return fault(invalid_parameter("sprout runs x86_64 only (Architectures)"));
    }
  }
  return {};
}

std::expected<void, AwsFault> read_runtime(const JsonValue& body, api::FunctionSpec& spec,
                                           bool required) {
  auto runtime = string_member(body, "Runtime");
  if (!runtime) return fault(runtime.error());
  if (!*runtime) {
    if (required) return fault(invalid_parameter("Runtime is required"));
    return {};
  }
  if (!is_python3_runtime_name(**runtime)) {
    return fault(invalid_parameter("Runtime '" + **runtime +
                                   "' is not supported by sprout (it runs python3.x)"));
  }
  if (!required && spec.runtime() != api::PYTHON3)
    return fault(invalid_parameter("a " + api::Runtime_Name(spec.runtime()) +
                                   " function cannot become a python3 one"));
  spec.set_runtime(api::PYTHON3);
  return {};
}

}  // namespace

AwsFault invalid_parameter(std::string message) {
  return {400, "InvalidParameterValueException", std::move(message)};
}

bool is_python3_runtime_name(std::string_view runtime) {
  return runtime.size() <= 16 && std::regex_match(runtime.begin(), runtime.end(), kPython3Runtime);
}

std::expected<api::FunctionSpec, AwsFault> read_create_function(std::string_view body) {
  auto request = read_object(body);
  if (!request) return fault(request.error());
  api::FunctionSpec spec;
  auto name = string_member(*request, "FunctionName");
  if (!name) return fault(name.error());
  if (!*name) return fault(invalid_parameter("FunctionName is required"));
  FunctionReference ref = parse_function_reference(**name, "");
  if (!ref.error.empty()) return fault(invalid_parameter(ref.error));
  if (!ref.qualifier.empty())
    return fault(invalid_parameter("FunctionName of CreateFunction takes no qualifier"));
  spec.set_name(ref.name);

  auto package_type = string_member(*request, "PackageType");
  if (!package_type) return fault(package_type.error());
  if (*package_type && **package_type != "Zip")
    return fault(invalid_parameter("sprout takes PackageType Zip only"));
  if (auto supported = refuse_unsupported(*request); !supported) return fault(supported.error());
  if (auto runtime = read_runtime(*request, spec, true); !runtime) return fault(runtime.error());
  if (auto settings = read_settings(*request, spec); !settings) return fault(settings.error());
  if (spec.handler().empty()) return fault(invalid_parameter("Handler is required"));

  const JsonValue* code = request->find("Code");
  if (!code || !code->is_object()) return fault(invalid_parameter("Code.ZipFile is required"));
  auto zip = decode_zip_file(*code);
  if (!zip) return fault(zip.error());
  spec.set_code(std::move(*zip));
  spec.set_code_format(api::ZIP);
  return spec;
}

std::expected<std::string, AwsFault> read_update_function_code(std::string_view body) {
  auto request = read_object(body);
  if (!request) return fault(request.error());
  if (auto supported = refuse_unsupported(*request); !supported) return fault(supported.error());
  // A dry run that deployed would be worse than a refusal.
  if (const JsonValue* dry_run = request->find("DryRun"); dry_run && dry_run->is_bool() &&
                                                         dry_run->as_bool())
    return fault(invalid_parameter("sprout does not support DryRun"));
  return decode_zip_file(*request);
}

std::expected<void, AwsFault> apply_update_function_configuration(std::string_view body,
                                                                  api::FunctionSpec& spec) {
  auto request = read_object(body);
  if (!request) return fault(request.error());
  if (auto supported = refuse_unsupported(*request); !supported) return fault(supported.error());
  if (auto runtime = read_runtime(*request, spec, false); !runtime) return fault(runtime.error());
  return read_settings(*request, spec);
}

}  // namespace sprout::http
