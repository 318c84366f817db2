// What an invocation came to: one status of DESIGN.md's list (those that the
// snapshot layer can produce), a readable detail, the result or the error,
// the tail of the logs, and the metering.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sprout {

enum class InvocationStatus {
  kOk,
  kFunctionError,     // the handler raised / returned an error
  kTimeout,           // killed at its deadline
  kOutOfMemory,       // killed by its cgroup's OOM killer
  kSeccompViolation,  // a fatal seccomp rule; detail names the syscall
  kCrashed,           // died by a signal, or exited without answering
  kInternal,          // sprout's own failure (fork refused, channel broken)
};

struct InvocationMetrics {
  uint64_t fork_us = 0;   // getting a ready sandbox: fork, or 0 when pre-forked
  uint64_t run_us = 0;    // request delivered to answer received, on sproutd's clock
  uint64_t total_us = 0;  // from invoke() to the result
  uint64_t cpu_time_us = 0;
  uint64_t peak_memory_bytes = 0;
  // CPU the sandbox used before its request arrived (the runtime's after-fork
  // hooks and warm-up in a pre-forked sandbox): function code, so billed.
  uint64_t prerequest_cpu_us = 0;
  bool preforked = false;
  // What the sandbox cost from its fork to its answer, as it reports it
  // (getrusage): diagnostics, never billed; zero when it did not answer.
  uint64_t minor_faults = 0, major_faults = 0;
  uint64_t voluntary_switches = 0, involuntary_switches = 0;
};

struct InvocationResult {
  InvocationStatus status = InvocationStatus::kInternal;
  std::string request_id;  // the aws_request_id the handler saw
  std::string detail;      // one readable line for every status but OK
  std::string result;      // OK: the JSON-encoded return value
  std::string error_type;
  std::string error_message;
  std::vector<std::string> stack_trace;
  std::string logs;  // tail of stdout+stderr, in order
  bool logs_truncated = false;
  InvocationMetrics metrics;
};

}  // namespace sprout
