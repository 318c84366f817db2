// The report channel between a freshly cloned (or forked) child and its
// parent, before user code or exec. For a sandbox, a SOCK_SEQPACKET
// socketpair, close-on-exec on the child side:
//   parent -> child: one "go" byte once id maps and cgroup are in place;
//   child -> parent: a ChildReport on failure ({stage, errno, object}); or,
//                    once set up, a ready record (with the seccomp listener
//                    attached, when there is one) right before user code,
//                    then EOF (exec closed the channel, or the entry started).
//                    A failed exec after the ready record still reports it.
// EOF alone is not success: a child that died during its setup without a
// word (killed by a signal, or its report lost) also closes the channel, and
// only the ready record tells the two apart.
// The runtime zygote's exec (snapshot/runtime_zygote.cc) reports on the same
// kind of channel with the same records. The parent side, which turns a
// report into an error, is sandbox/child_report_reader.h.
//
// Child side: async-signal-safe, plain data only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sprout {

// Every setup step a child performs. The stage names the step in the error
// the parent builds ("pivot_root", "mount tmpfs on /tmp", ...). Numbers are
// stable: new stages go at the end.
enum class ChildStage : uint32_t {
  kWaitForParent = 1,
  kSetGroups,
  kSetGid,
  kSetUid,
  kUnshareCgroupNamespace,
  kMount,  // object: index of the step in the mount plan
  kHostname,
  kLoopback,
  kDescriptors,
  kRlimit,  // object: the RLIMIT_* resource
  kSignalMask,
  kChdir,
  kCapabilities,
  kNoNewPrivs,
  kSeccomp,
  kSendReady,  // the ready record (and seccomp listener) to the spawner
  kExec,
  // The runtime zygote's exec of sprout-agent (snapshot/runtime_zygote.cc).
  kExecAgent,
  // The function snapshot's own setup (agent/snapshot_role.cc).
  kDumpable,
};

const char* child_stage_name(ChildStage stage);

struct ChildReport {
  uint32_t kind;  // kReportFailure or kReportReady
  uint32_t stage;
  int32_t err;
  int32_t object;
};
inline constexpr uint32_t kReportFailure = 1;
// Set up; user code next. Carries the seccomp listener (SCM_RIGHTS) if any.
inline constexpr uint32_t kReportReady = 2;

// Child side, async-signal-safe.
void report_child_failure(int report_fd, ChildStage stage, int err, int object = -1);
// The ready record, with `listener_fd` attached unless it is negative.
bool send_ready_report(int report_fd, int listener_fd);
// Sends `size` bytes with `fd` attached (SCM_RIGHTS) unless it is negative.
bool send_with_descriptor(int socket_fd, const void* data, size_t size, int fd);

}  // namespace sprout
