// A language runtime inside sprout-agent. One object lives through the
// agent's three roles, in this order:
//   zygote:   initialize() once, then forks snapshots;
//   snapshot: load() once (the function's init), then forks sandboxes,
//             bracketing each fork with before_fork()/after_fork_parent();
//   sandbox:  after_fork_child(), invoke() once, flush_output(), exit.
// Single-threaded by design: every fork happens from a single-threaded
// process, so the children may use anything.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/proto/agent_protocol.pb.h"
#include "base/errors.h"

namespace sprout::agent {

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual Result<void> initialize(const std::vector<std::string>& pre_imports) = 0;
  // Runs the function's init with its code at /var/task. Never throws:
  // failures are an InitResult with ok = false.
  virtual InitResult load(const LoadFunction& load) = 0;
  virtual void before_fork() {}
  virtual void after_fork_parent() {}
  virtual void after_fork_child() {}
  // Sandbox, only while no request is waiting (a pre-forked sandbox): touch
  // what invoke() will touch, so its copy-on-write faults happen now.
  virtual void warm_up() {}
  virtual InvokeReply invoke(const InvokeRequest& request) = 0;
  virtual void flush_output() {}
};

std::unique_ptr<Runtime> make_python_runtime();
std::unique_ptr<Runtime> make_native_runtime();
std::unique_ptr<Runtime> make_exec_runtime();

// Helpers shared by the runtimes.
InitResult init_error(std::string type, std::string message);
// "/var/task/<handler>" for a relative path inside the bundle, or nullopt
// with `error` set (absolute paths and ".." are refused).
std::optional<std::string> handler_path(const std::string& handler, const char* what,
                                        InitResult* error);
InvokeReply function_error(std::string type, std::string message);

}  // namespace sprout::agent
