#include "http/management/lambda_management.h"

#include <algorithm>
#include <cstdlib>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "http/encoding.h"
#include "http/function_name.h"
#include "http/invoke_answer.h"
#include "http/json.h"
#include "http/management/deployed_code.h"
#include "http/management/lambda_configuration.h"
#include "http/management/lambda_requests.h"
#include "supervisor/function_manager.h"

namespace sprout::http {
namespace {

constexpr std::string_view kFunctionsPath = "/2015-03-31/functions";
constexpr int64_t kDefaultMaxItems = 50;  // Lambda's
constexpr int64_t kMaxMaxItems = 10000;

// Deploys of one name through the front door, one at a time: CreateFunction's
// "does it exist" and UpdateFunctionConfiguration's read-modify-write must
// not interleave with another of them. (A deploy through the socket is not
// held: it is create-or-update anyway.)
class NameLocks {
 public:
  std::shared_ptr<std::mutex> lock_for(const std::string& name) {
    std::lock_guard lock(mutex_);
    // Locks nobody holds any more are dropped here, so the map stays small.
    std::erase_if(locks_, [](const auto& entry) { return entry.second.expired(); });
    auto& slot = locks_[name];
    auto held = slot.lock();
    if (!held) {
      held = std::make_shared<std::mutex>();
      slot = held;
    }
    return held;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<std::mutex>> locks_;
};

// One sproutd per process: the front door's memory of what it deployed.
struct ManagementState {
  DeployedCodeMemory code;
  NameLocks locks;
};

ManagementState& state() {
  static ManagementState shared;
  return shared;
}

HttpAnswer json_answer(unsigned status, std::string body) {
  HttpAnswer answer;
  answer.status = status;
  answer.body = std::move(body);
  return answer;
}

HttpAnswer fault_answer(const AwsFault& fault) {
  return aws_error(fault.status, fault.type, fault.message);
}

HttpAnswer function_not_found(std::string_view name, std::string_view qualifier = {}) {
  return aws_error(404, "ResourceNotFoundException",
                   "Function not found: " + function_arn(kManagementRegion, name, qualifier));
}

std::string query_value(std::string_view query, std::string_view name) {
  for (const auto& [raw_name, raw_value] : split_query(query))
    if (percent_decode(raw_name) == name) return percent_decode(raw_value);
  return {};
}

std::string configuration_of(const api::FunctionInfo& info, supervisor::FunctionManager& manager) {
  return function_configuration_json(info, state().code.sha256(info, manager));
}

// A deploy that did not go through. sproutd never keeps a version whose
// init failed (the previous one, if any, keeps serving), so CreateFunction
// creates nothing and UpdateFunction* changes nothing: the init's error is
// answered at once, where Lambda would report it at the first invocation.
HttpAnswer deploy_refused(const api::Response& response) {
  if (response.status() == api::INIT_ERROR) {
    const api::DeployResponse& deploy = response.deploy();
    const std::string& message = deploy.error_message();
    if (deploy.error_type() == "Runtime.SnapshotSetupError" &&
        (message.starts_with("read zip bundle") || message.starts_with("read bundle"))) {
      // Lambda's own words for an archive it cannot unpack, then why.
      return aws_error(400, "InvalidParameterValueException",
                       "Could not unzip uploaded file: " + message);
    }
    return aws_error(400, "InvalidParameterValueException",
                     "The function's init failed, so sprout kept no new version: " +
                         deploy.error_type() + ": " + message);
  }
  if (response.status() == api::INVALID_ARGUMENT)
    return aws_error(400, "InvalidParameterValueException", response.error());
  return service_error(response.status(), response.error());
}

// Deploys `spec` (its code's hash remembered) and answers `status`
// with the new version's configuration.
HttpAnswer deploy_and_describe(supervisor::FunctionManager& manager, api::FunctionSpec spec,
                               unsigned status) {
  // Hashed now, before the bundle moves into the request.
  const std::string sha256 = code_sha256(spec.code());
  api::DeployRequest request;
  *request.mutable_spec() = std::move(spec);
  const api::Response response = manager.deploy(std::move(request));
  if (response.status() != api::OK) return deploy_refused(response);
  const api::FunctionInfo& info = response.deploy().function();
  state().code.remember(info, sha256);
  return json_answer(status, configuration_of(info, manager));
}

// The current version of `name`, or the answer that it has none.
std::expected<api::FunctionInfo, HttpAnswer> current_function(supervisor::FunctionManager& manager,
                                                              const std::string& name) {
  api::Response response = manager.get(name);
  if (response.status() == api::NOT_FOUND) return std::unexpected(function_not_found(name));
  if (response.status() != api::OK)
    return std::unexpected(service_error(response.status(), response.error()));
  return response.get().function();
}

HttpAnswer create_function(std::string_view body, supervisor::FunctionManager& manager) {
  auto spec = read_create_function(body);
  if (!spec) return fault_answer(spec.error());
  auto lock = state().locks.lock_for(spec->name());
  std::lock_guard serialized(*lock);
  if (manager.get(spec->name()).status() == api::OK) {
    return aws_error(409, "ResourceConflictException", "Function already exist: " + spec->name());
  }
  return deploy_and_describe(manager, std::move(*spec), 201);
}

HttpAnswer list_functions(std::string_view query, supervisor::FunctionManager& manager) {
  const std::string marker = query_value(query, "Marker");
  int64_t max_items = kDefaultMaxItems;
  if (const std::string text = query_value(query, "MaxItems"); !text.empty()) {
    char* end = nullptr;
    max_items = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0' || max_items < 1 || max_items > kMaxMaxItems)
      return aws_error(400, "InvalidParameterValueException",
                       "MaxItems must be an integer from 1 to 10000");
  }
  const api::Response response = manager.list();
  if (response.status() != api::OK) return service_error(response.status(), response.error());
  // Names sort the list; the marker is the last name of the previous page.
  std::vector<const api::FunctionInfo*> functions;
  for (const auto& info : response.list().functions()) functions.push_back(&info);
  std::sort(functions.begin(), functions.end(), [](const auto* a, const auto* b) {
    return a->spec().name() < b->spec().name();
  });
  std::string items, last_listed;
  int64_t listed = 0;
  bool more = false;
  for (const api::FunctionInfo* info : functions) {
    if (!marker.empty() && info->spec().name() <= marker) continue;
    if (listed == max_items) {
      more = true;
      break;
    }
    items += (listed++ ? "," : "") + configuration_of(*info, manager);
    last_listed = info->spec().name();
  }
  JsonObjectWriter out;
  out.raw("Functions", "[" + items + "]");
  if (more) out.string("NextMarker", last_listed);
  return json_answer(200, out.str());
}

HttpAnswer get_function(const std::string& name, supervisor::FunctionManager& manager,
                        bool configuration_only) {
  auto info = current_function(manager, name);
  if (!info) return info.error();
  if (configuration_only) return json_answer(200, configuration_of(*info, manager));
  // sproutd serves no download of the code: Location is empty.
  return json_answer(200, JsonObjectWriter()
                              .raw("Configuration", configuration_of(*info, manager))
                              .raw("Code", JsonObjectWriter()
                                               .string("RepositoryType", "S3")
                                               .string("Location", "")
                                               .str())
                              .str());
}

HttpAnswer delete_function(const std::string& name, supervisor::FunctionManager& manager) {
  auto lock = state().locks.lock_for(name);
  std::lock_guard serialized(*lock);
  const api::Response response = manager.remove(name);
  if (response.status() == api::NOT_FOUND) return function_not_found(name);
  if (response.status() != api::OK) return service_error(response.status(), response.error());
  state().code.forget(name);
  HttpAnswer answer;
  answer.status = 204;
  answer.content_type.clear();
  return answer;
}

HttpAnswer update_function_code(const std::string& name, std::string_view body,
                                supervisor::FunctionManager& manager) {
  auto zip = read_update_function_code(body);
  if (!zip) return fault_answer(zip.error());
  auto lock = state().locks.lock_for(name);
  std::lock_guard serialized(*lock);
  auto info = current_function(manager, name);
  if (!info) return info.error();
  api::FunctionSpec spec = info->spec();
  spec.set_code(std::move(*zip));
  spec.set_code_format(api::ZIP);
  spec.clear_code_file_name();
  return deploy_and_describe(manager, std::move(spec), 200);
}

HttpAnswer update_function_configuration(const std::string& name, std::string_view body,
                                         supervisor::FunctionManager& manager) {
  auto lock = state().locks.lock_for(name);
  std::lock_guard serialized(*lock);
  auto info = current_function(manager, name);
  if (!info) return info.error();
  api::FunctionSpec spec = info->spec();
  if (auto applied = apply_update_function_configuration(body, spec); !applied)
    return fault_answer(applied.error());
  // A new version with the same code: sproutd's versions are whole.
  auto code = state().code.current(*info, manager);
  if (!code) {
    // Deleted or redeployed since it was read above, by another client.
    return aws_error(409, "ResourceConflictException",
                     "The function " + name + " changed while it was being updated; retry");
  }
  spec.set_code(std::move(code->bundle));
  return deploy_and_describe(manager, std::move(spec), 200);
}

}  // namespace

HttpAnswer aws_error(unsigned status, std::string_view type, std::string_view message) {
  HttpAnswer answer;
  answer.status = status;
  answer.headers.emplace_back("x-amzn-ErrorType", std::string(type));
  answer.body = JsonObjectWriter()
                    .string("Type", status >= 500 ? "Service" : "User")
                    .string("message", message)
                    .str();
  return answer;
}

std::optional<HttpAnswer> handle_lambda_management(std::string_view method, std::string_view path,
                                                   std::string_view query, std::string_view body,
                                                   supervisor::FunctionManager& manager) {
  if (!path.starts_with(kFunctionsPath)) return std::nullopt;
  std::string_view rest = path.substr(kFunctionsPath.size());
  if (rest.empty() || rest == "/") {
    if (method == "POST") return create_function(body, manager);
    if (method == "GET") return list_functions(query, manager);
    return std::nullopt;
  }
  if (rest[0] != '/') return std::nullopt;  // "/2015-03-31/functionsX"
  rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  const std::string_view segment = rest.substr(0, slash);
  const std::string_view operation =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  enum class Route { kFunction, kConfiguration, kCode };
  Route route;
  if (operation.empty())
    route = Route::kFunction;
  else if (operation == "configuration")
    route = Route::kConfiguration;
  else if (operation == "code")
    route = Route::kCode;
  else
    return std::nullopt;  // invocations (the front door's), policy, url, versions, ...

  const bool is_get = method == "GET";
  const bool known = route == Route::kFunction        ? (is_get || method == "DELETE")
                     : route == Route::kConfiguration ? (is_get || method == "PUT")
                                                      : method == "PUT";
  if (!known) return std::nullopt;

  FunctionReference ref = parse_function_reference(segment, query_value(query, "Qualifier"));
  if (!ref.error.empty()) return aws_error(400, "InvalidParameterValueException", ref.error);
  if (!ref.qualifier.empty() && ref.qualifier != "$LATEST") {
    // sproutd serves only the current version, which is $LATEST.
    if (is_get) return function_not_found(ref.name, ref.qualifier);
    return aws_error(400, "InvalidParameterValueException",
                     "sprout has no published versions or aliases: no qualifier '" +
                         ref.qualifier + "'");
  }
  switch (route) {
    case Route::kFunction:
      return is_get ? get_function(ref.name, manager, false) : delete_function(ref.name, manager);
    case Route::kConfiguration:
      return is_get ? get_function(ref.name, manager, true)
                    : update_function_configuration(ref.name, body, manager);
    case Route::kCode:
      return update_function_code(ref.name, body, manager);
  }
  return std::nullopt;
}

}  // namespace sprout::http
