#include "snapshot/invocation_result.h"

namespace sprout {

const char* invocation_status_name(InvocationStatus status) {
  switch (status) {
    case InvocationStatus::kOk:
      return "OK";
    case InvocationStatus::kFunctionError:
      return "FUNCTION_ERROR";
    case InvocationStatus::kInitError:
      return "INIT_ERROR";
    case InvocationStatus::kTimeout:
      return "TIMEOUT";
    case InvocationStatus::kOutOfMemory:
      return "OUT_OF_MEMORY";
    case InvocationStatus::kSeccompViolation:
      return "SECCOMP_VIOLATION";
    case InvocationStatus::kCrashed:
      return "CRASHED";
    case InvocationStatus::kInternal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace sprout
