// Fuzzes every check sproutd makes of a client's request before acting on
// it (supervisor/validation.h, and the name and payload checks of
// supervisor/function_manager.cc), on requests parsed from arbitrary bytes.
//
// Input: an api::Request; bytes that are not one are also tried as a bare
// api::FunctionSpec. A spec that validation accepts, once its defaults are
// applied, must satisfy every limit the API promises (api/proto/
// sprout_api.proto): what sproutd then stores, loads and pre-forks for is
// only ever a spec inside those limits. Broken promises abort.
//
// Validation runs on a stack limited to 2 MiB: sproutd validates on its
// worker threads, and a check whose stack grows with the length of a field
// (a backtracking regex, say) lets a client crash the daemon with one long
// enough field, up to the 6 MiB frame limit. Fuzz inputs are at most 64 KiB,
// so the smaller stack makes such growth show within them (as an ASan
// stack-overflow report).
#include <sys/resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <google/protobuf/util/message_differencer.h>

#include "api/proto/sprout_api.pb.h"
#include "fuzz/fuzz_support.h"
#include "supervisor/validation.h"

namespace {

namespace api = sprout::api;
using sprout::supervisor::apply_function_defaults;
using sprout::supervisor::effective_tenant;
using sprout::supervisor::is_valid_function_name;
using sprout::supervisor::is_valid_tenant_name;
using sprout::supervisor::validate_function_spec;

void check(bool ok, const char* what, const api::FunctionSpec* spec = nullptr) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_request_validation: invariant broken: %s\n", what);
  if (spec != nullptr) {
    api::FunctionSpec shown = *spec;
    shown.clear_code();
    std::fprintf(stderr, "spec (code cleared): %s\n", shown.ShortDebugString().c_str());
  }
  std::abort();
}

bool plain_name_chars(const std::string& text) {
  for (const char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A path that resolves inside /var/task: relative, no ".." component, no
// NUL (which would cut the path where the kernel reads it).
bool inside_bundle(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0) return false;
    start = end + 1;
  }
  return true;
}

// What sproutd's deploy does with a spec (FunctionManager::deploy), and the
// promises an accepted spec must keep.
void check_deploy(api::FunctionSpec spec) {
  const std::string problem = validate_function_spec(spec);
  // Validation is a pure function of the spec.
  check(validate_function_spec(spec) == problem, "validation is deterministic", &spec);
  if (!problem.empty()) return;

  const std::string& name = spec.name();
  check(is_valid_function_name(name), "accepted name is a valid name", &spec);
  check(!name.empty() && name.size() <= 64 && plain_name_chars(name),
        "accepted name is [A-Za-z0-9_-]{1,64}", &spec);
  check(spec.tenant().empty() || (spec.tenant().size() <= 64 && plain_name_chars(spec.tenant())),
        "accepted tenant is [A-Za-z0-9_-]{1,64} or empty", &spec);
  check(spec.runtime() == api::PYTHON3 || spec.runtime() == api::NATIVE ||
            spec.runtime() == api::EXEC,
        "accepted runtime is python3, native or exec", &spec);
  check(!spec.handler().empty() && spec.handler().find('\0') == std::string::npos,
        "accepted handler is non-empty, without NUL", &spec);
  if (spec.runtime() != api::PYTHON3)
    check(inside_bundle(spec.handler()), "accepted handler path stays inside the bundle", &spec);
  check(!spec.code().empty(), "accepted code is non-empty", &spec);
  check(spec.code_format() == api::SINGLE_FILE || spec.code_format() == api::TAR ||
            spec.code_format() == api::ZIP,
        "accepted code_format is SINGLE_FILE, TAR or ZIP", &spec);
  if (spec.code_format() == api::SINGLE_FILE) {
    // The agent lays it out as /var/task/<name> (agent/code_bundle.cc): a
    // name of its own, so not "." or "..".
    const std::string& file = spec.code_file_name();
    check(inside_bundle(file) && file.find('/') == std::string::npos && file != ".",
          "accepted code_file_name is a plain file name the agent can lay out", &spec);
  }
  size_t env_bytes = 0;
  for (const auto& [key, value] : spec.env()) {
    check(!key.empty() && key.find('=') == std::string::npos &&
              key.find('\0') == std::string::npos && value.find('\0') == std::string::npos,
          "accepted environment entry is KEY=VALUE without NUL", &spec);
    env_bytes += key.size() + value.size();
  }
  check(env_bytes <= 4096, "accepted environment is at most 4 KiB", &spec);
  for (const auto& module : spec.pre_imports())
    check(!module.empty() && module.find('\0') == std::string::npos, "accepted pre_import", &spec);

  // The tenant a function runs under never collides with a named tenant's.
  const std::string tenant = effective_tenant(spec);
  check(!tenant.empty(), "effective tenant is non-empty", &spec);
  check(spec.tenant().empty() ? !is_valid_tenant_name(tenant) : tenant == spec.tenant(),
        "a function's own tenant cannot be named by another", &spec);

  // The limits sprout_api.proto promises, after the server's defaults.
  apply_function_defaults(spec);
  check(spec.memory_mb() >= 16 && spec.memory_mb() <= 10240, "memory_mb in 16..10240", &spec);
  check(spec.timeout_ms() >= 1 && spec.timeout_ms() <= 900000, "timeout_ms in 1..900000", &spec);
  check(spec.max_concurrency() >= 1 && spec.max_concurrency() <= 1000,
        "max_concurrency in 1..1000", &spec);
  check(spec.prefork_max() <= 64, "prefork_max at most 64 after defaults", &spec);
  check(spec.prefork_min() <= spec.prefork_max(), "prefork_min at most prefork_max after defaults",
        &spec);
  if (spec.no_prefork())
    check(spec.prefork_min() == 0 && spec.prefork_max() == 0, "no_prefork keeps none", &spec);
  // Defaults are applied once: a second pass changes nothing.
  api::FunctionSpec again = spec;
  apply_function_defaults(again);
  check(google::protobuf::util::MessageDifferencer::Equals(again, spec), "defaults are idempotent",
        &spec);
}

// The checks of the other calls: a name to delete, a payload to invoke.
void check_request(const api::Request& request) {
  switch (request.call_case()) {
    case api::Request::kDeploy:
      check_deploy(request.deploy().spec());
      break;
    case api::Request::kInvoke:
    case api::Request::kInvokeAsync: {
      const auto& invoke =
          request.has_invoke() ? request.invoke() : request.invoke_async();
      // Looked up by name, never validated as one: a lookup of any bytes is
      // a miss. The payload limit is a size comparison.
      (void)is_valid_function_name(invoke.function());
      (void)invoke.payload().size();
      break;
    }
    case api::Request::kDelete:
      if (is_valid_function_name(request.delete_().name())) {
        check(plain_name_chars(request.delete_().name()), "a deletable name is plain");
      }
      break;
    case api::Request::kGet:
      (void)is_valid_function_name(request.get().name());
      break;
    case api::Request::kStats:
      (void)is_valid_function_name(request.stats().name());
      break;
    default:
      break;
  }
}

}  // namespace

// sproutd's worker threads have the default 8 MiB; 2 MiB here, set before
// the first input, while the main stack is still small (the kernel checks
// the limit whenever the stack grows).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sprout::fuzz::silence_protobuf_logs();
  rlimit stack{};
  if (::getrlimit(RLIMIT_STACK, &stack) != 0) check(false, "getrlimit RLIMIT_STACK");
  stack.rlim_cur = std::min<rlim_t>(stack.rlim_max, 2 << 20);
  if (::setrlimit(RLIMIT_STACK, &stack) != 0) check(false, "setrlimit RLIMIT_STACK");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  api::Request request;
  if (request.ParseFromString(bytes)) {
    check_request(request);
    return 0;
  }
  api::FunctionSpec spec;
  if (spec.ParseFromString(bytes)) check_deploy(spec);
  return 0;
}
