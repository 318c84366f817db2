// The native runtime: a shared object with the C ABI of
// agent/include/sprout/native.h, dlopen'd once in the function snapshot
// (where its sprout_init runs) and called in each sandbox.
#include <dlfcn.h>

#include <cstdlib>

#include "agent/runtime.h"
#include "sprout/native.h"

namespace sprout::agent {
namespace {

class NativeRuntime final : public Runtime {
 public:
  Result<void> initialize(const std::vector<std::string>&) override { return {}; }

  InitResult load(const LoadFunction& load) override {
    const std::string& file = load.handler();
    InitResult refused;
    auto found = handler_path(file, "a shared object", &refused);
    if (!found) return refused;
    const std::string& path = *found;
    // RTLD_NOW: a missing symbol fails the deploy, not the 1000th invocation.
    library_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library_)
      return init_error("Runtime.InvalidEntrypoint", std::string("dlopen: ") + dlerror());
    handler_ = reinterpret_cast<sprout_handler_fn>(dlsym(library_, "sprout_handler"));
    if (!handler_) {
      return init_error("Runtime.HandlerNotFound", "symbol sprout_handler not found in " + file);
    }
    function_ = load.function();
    if (auto init = reinterpret_cast<sprout_init_fn>(dlsym(library_, "sprout_init"))) {
      int rc = init();
      if (rc != 0)
        return init_error("Runtime.InitError", "sprout_init returned " + std::to_string(rc));
    }
    InitResult ok;
    ok.set_ok(true);
    return ok;
  }

  InvokeReply invoke(const InvokeRequest& request) override {
    sprout_context context{SPROUT_NATIVE_ABI_VERSION,   function_.name().c_str(),
                           function_.version().c_str(), request.request_id().c_str(),
                           function_.memory_limit_mb(), request.deadline_monotonic_ns()};
    sprout_buffer response{nullptr, 0};
    int rc = handler_(&context, request.payload().data(), request.payload().size(), &response);
    std::string body = response.data ? std::string(response.data, response.size) : std::string();
    free(response.data);
    if (rc != 0)
      return function_error("NativeFunctionError",
                            body.empty() ? "sprout_handler returned " + std::to_string(rc) : body);
    InvokeReply reply;
    reply.set_kind(InvokeReply::OK);
    reply.set_result(std::move(body));
    return reply;
  }

 private:
  void* library_ = nullptr;
  sprout_handler_fn handler_ = nullptr;
  FunctionIdentity function_;
};

}  // namespace

std::unique_ptr<Runtime> make_native_runtime() { return std::make_unique<NativeRuntime>(); }

}  // namespace sprout::agent
