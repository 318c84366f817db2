#include "sandbox/spec_defaults.h"

namespace sprout {

void apply_spec_defaults(sandbox::SandboxSpec& spec) {
  if (spec.runtime_paths().empty()) spec.add_runtime_paths("/usr");
  if (spec.etc_files().empty()) {
    for (const char* file : {"/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf"}) {
      spec.add_etc_files(file);
    }
  }
  if (spec.working_dir().empty()) spec.set_working_dir(spec.code_dir().empty() ? "/" : "/var/task");
  if (spec.hostname().empty()) spec.set_hostname("sprout");
  if (spec.tmp_size_bytes() == 0) spec.set_tmp_size_bytes(kDefaultTmpSizeBytes);
  if (spec.memory_limit_bytes() == 0) spec.set_memory_limit_bytes(kDefaultMemoryLimitBytes);
  if (spec.pids_limit() == 0) spec.set_pids_limit(kDefaultPidsLimit);
  if (spec.cpu_millicores() == 0) spec.set_cpu_millicores(kDefaultCpuMillicores);
  if (spec.max_open_files() == 0) spec.set_max_open_files(kDefaultMaxOpenFiles);
}

CgroupLimits cgroup_limits_of(const sandbox::SandboxSpec& spec) {
  sandbox::SandboxSpec with_defaults = spec;
  apply_spec_defaults(with_defaults);
  return CgroupLimits{with_defaults.memory_limit_bytes(), with_defaults.pids_limit(),
                      with_defaults.cpu_millicores()};
}

}  // namespace sprout
