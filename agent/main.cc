// sprout-agent: the guest agent. Started by the supervisor (fork + exec, as
// an unprivileged uid with no_new_privs) as the runtime zygote of one runtime:
//
//   sprout-agent --runtime python3|native|exec --control-fd N [--pre-import MODULE]...
//
// It then forks function snapshots on command, which fork sandboxes; all of
// them are this same binary's memory, never exec'd again.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent/roles.h"
#include "agent/runtime.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: sprout-agent --runtime python3|native|exec --control-fd N [--pre-import "
               "MODULE]...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string runtime_name;
  int control_fd = -1;
  std::vector<std::string> pre_imports;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    if (arg == "--runtime") {
      runtime_name = argv[++i];
    } else if (arg == "--control-fd") {
      control_fd = std::atoi(argv[++i]);
    } else if (arg == "--pre-import") {
      pre_imports.push_back(argv[++i]);
    } else {
      return usage();
    }
  }
  std::unique_ptr<sprout::agent::Runtime> runtime;
  if (runtime_name == "python3") {
    runtime = sprout::agent::make_python_runtime();
  } else if (runtime_name == "native") {
    runtime = sprout::agent::make_native_runtime();
  } else if (runtime_name == "exec") {
    runtime = sprout::agent::make_exec_runtime();
  } else {
    std::fprintf(stderr, "sprout-agent: unknown runtime '%s'\n", runtime_name.c_str());
    return usage();
  }
  if (control_fd < 0) return usage();
  sprout::agent::run_zygote(*runtime, control_fd, pre_imports);
}
