// Child side of the report channel: async-signal-safe, no allocation.
#include "sandbox/child_report.h"

#include <sys/socket.h>

#include <cstring>

#include "base/unique_fd.h"

namespace sprout {

const char* child_stage_name(ChildStage stage) {
  switch (stage) {
    case ChildStage::kWaitForParent:
      return "wait for the spawner";
    case ChildStage::kSetGroups:
      return "setgroups";
    case ChildStage::kSetGid:
      return "setresgid";
    case ChildStage::kSetUid:
      return "setresuid";
    case ChildStage::kUnshareCgroupNamespace:
      return "unshare cgroup namespace";
    case ChildStage::kMount:
      return "mount";
    case ChildStage::kHostname:
      return "sethostname";
    case ChildStage::kLoopback:
      return "bring up loopback";
    case ChildStage::kDescriptors:
      return "arrange descriptors";
    case ChildStage::kRlimit:
      return "setrlimit";
    case ChildStage::kSignalMask:
      return "reset signal mask";
    case ChildStage::kChdir:
      return "chdir";
    case ChildStage::kCapabilities:
      return "drop capabilities";
    case ChildStage::kNoNewPrivs:
      return "set no_new_privs";
    case ChildStage::kSeccomp:
      return "load seccomp filter";
    case ChildStage::kSendReady:
      return "report ready to the spawner";
    case ChildStage::kExec:
      return "execve";
    case ChildStage::kExecAgent:
      return "exec sprout-agent";
    case ChildStage::kDumpable:
      return "set dumpable";
  }
  return "unknown stage";
}

void report_child_failure(int report_fd, ChildStage stage, int err, int object) {
  ChildReport report{kReportFailure, static_cast<uint32_t>(stage), err, object};
  // Nothing to do if this fails: the parent then sees EOF with a dead child.
  [[maybe_unused]] auto sent = ::send(report_fd, &report, sizeof report, MSG_NOSIGNAL);
}

bool send_with_descriptor(int socket_fd, const void* data, size_t size, int fd) {
  iovec iov{const_cast<void*>(data), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  return retry_eintr([&] { return ::sendmsg(socket_fd, &msg, MSG_NOSIGNAL); }) ==
         static_cast<ssize_t>(size);
}

bool send_ready_report(int report_fd, int listener_fd) {
  ChildReport report{kReportReady, 0, 0, 0};
  return send_with_descriptor(report_fd, &report, sizeof report, listener_fd);
}

}  // namespace sprout
