// The channel between a freshly cloned sandbox and its spawner, before user
// code runs. A SOCK_SEQPACKET socketpair, close-on-exec on the child side:
//   parent -> child: one "go" byte once id maps and cgroup are in place;
//   child -> parent: a ChildReport on failure ({stage, errno, object}), or the
//                    seccomp listener descriptor (SCM_RIGHTS); then EOF, which
//                    means the child reached user code (exec or entry).
// The child-side functions are async-signal-safe; the parent side is not.
#pragma once

#include <cstdint>
#include <string>

#include "base/errors.h"
#include "base/unique_fd.h"

namespace sprout {

// Every setup step the child performs, in order. The stage names the step in
// the error the parent builds ("pivot_root", "mount tmpfs on /tmp", ...).
enum class ChildStage : uint32_t {
  kWaitForParent = 1,
  kSetGroups,
  kSetGid,
  kSetUid,
  kUnshareCgroupNamespace,
  kMount,  // object: index of the step in the MountPlan
  kHostname,
  kLoopback,
  kDescriptors,
  kRlimit,  // object: the RLIMIT_* resource
  kSignalMask,
  kChdir,
  kCapabilities,
  kNoNewPrivs,
  kSeccomp,
  kSendSeccompListener,
  kExec,
};

const char* child_stage_name(ChildStage stage);

struct ChildReport {
  uint32_t kind;  // kReportFailure
  uint32_t stage;
  int32_t err;
  int32_t object;
};
inline constexpr uint32_t kReportFailure = 1;
inline constexpr uint32_t kReportSeccompListener = 2;

// Child side, async-signal-safe.
void report_child_failure(int report_fd, ChildStage stage, int err, int object = -1);
bool send_seccomp_listener(int report_fd, int listener_fd);
// Sends `size` bytes with `fd` attached (SCM_RIGHTS) unless it is negative.
bool send_with_descriptor(int socket_fd, const void* data, size_t size, int fd);

// Parent side: what the child said before reaching user code.
struct ChildSetupResult {
  bool failed = false;
  ChildReport failure{};
  UniqueFd seccomp_listener;
};
Result<ChildSetupResult> read_child_reports(int report_fd);

}  // namespace sprout
