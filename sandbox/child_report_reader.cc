// Parent side of the report channel. May allocate.
#include "sandbox/child_report_reader.h"

#include <sys/socket.h>

#include <cstring>

namespace sprout {

Result<ChildSetupResult> read_child_reports(int report_fd) {
  ChildSetupResult result;
  for (;;) {
    ChildReport report{};
    iovec iov{&report, sizeof report};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = retry_eintr([&] { return ::recvmsg(report_fd, &msg, MSG_CMSG_CLOEXEC); });
    if (n < 0) return os_error("read child report");
    if (n == 0) return result;  // EOF: the child reached user code or died
    // The child is not trusted once user code could run; before that it is
    // ours, but a short or odd message is still refused rather than guessed at.
    if (n != static_cast<ssize_t>(sizeof report)) {
      return plain_error("read child report", "short message of " + std::to_string(n) + " bytes");
    }
    int passed_fd = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        memcpy(&passed_fd, CMSG_DATA(c), sizeof(int));
      }
    }
    if (report.kind == kReportReady) {
      result.ready = true;
      if (passed_fd >= 0) result.seccomp_listener.reset(passed_fd);
    } else if (report.kind == kReportFailure) {
      if (passed_fd >= 0) ::close(passed_fd);
      result.failed = true;
      result.failure = report;
    } else {
      if (passed_fd >= 0) ::close(passed_fd);
      return plain_error("read child report", "unknown report kind " + std::to_string(report.kind));
    }
  }
}

Error describe_child_failure(ChildStage stage, int err, std::string object) {
  return Error{child_stage_name(stage), std::move(object), err, {}};
}

Error describe_silent_child_end(const std::string& what, const siginfo_t& end) {
  std::string how;
  if (end.si_pid == 0) {
    how = "its end unknown: not our child";
  } else if (end.si_code == CLD_EXITED) {
    how = "exited with status " + std::to_string(end.si_status);
  } else {
    const char* signal_name = sigabbrev_np(end.si_status);
    how = "killed by signal " +
          (signal_name ? std::string(signal_name) : std::to_string(end.si_status));
  }
  return Error{what, "", 0, "ended during its setup without a report (" + how + ")"};
}

Error describe_child_failure(const ChildReport& report, std::string object) {
  return describe_child_failure(static_cast<ChildStage>(report.stage), report.err,
                                std::move(object));
}

}  // namespace sprout
