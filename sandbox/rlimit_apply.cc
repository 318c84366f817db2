// Child side: async-signal-safe.
#include "sandbox/rlimit_apply.h"

namespace sprout {

int apply_rlimits(const RlimitPlan& plan) {
  for (size_t i = 0; i < plan.count; ++i) {
    rlimit limit{plan.settings[i].value, plan.settings[i].value};
    if (setrlimit(static_cast<__rlimit_resource>(plan.settings[i].resource), &limit) != 0) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace sprout
