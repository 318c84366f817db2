// One invocation on a ready sandbox: send the request, collect the reply and
// the logs, enforce the deadline and the fatal seccomp rules, reap, and
// classify. Everything the sandbox sends is bounded and validated.
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string_view>

#include "protocol/frame.h"
#include "protocol/frame_reader.h"
#include "protocol/limits.h"
#include "protocol/setup_record.h"
#include "snapshot/function_snapshot.h"
#include "snapshot/log_tail.h"
#include "snapshot/sandbox_reaper.h"

namespace sprout {
namespace {

// Reads what the sandbox sends on its invocation channel, incrementally,
// from a non-blocking socket: first its setup record ('R', 'L' with the
// seccomp listener, or 'F' with the failed step: protocol/setup_record.h),
// then its reply frame (protocol/frame_reader.h), and nothing after it.
// Bounded and validated: the sandbox is not trusted.
class ChannelReader {
 public:
  // What the channel holds before the reply.
  enum class Start {
    kSetupRecord,          // a cold sandbox: its setup record, then the reply
    kSetupRecordAndWarm,   // a pre-forked one warming up: the record, then 'W', nothing more
    kReply,                // a warm one, whose record and 'W' were read: the reply
  };
  ChannelReader(size_t max_reply_bytes, Start start)
      : setup_done_(start == Start::kReply),
        want_warm_(start == Start::kSetupRecordAndWarm),
        frames_(max_reply_bytes) {}

  // False once the reply (or, warming up, the 'W') is complete, malformed,
  // or the channel closed.
  bool want_more() const { return !done_; }
  bool warm() const { return warm_; }
  const std::optional<agent::InvokeReply>& reply() const { return reply_; }
  const std::string& problem() const { return problem_; }
  const std::string& setup_failure() const { return setup_failure_; }
  // The seccomp listener, once it arrived (taken once).
  UniqueFd take_listener() { return std::move(listener_); }

  void read_from(int fd) {
    char buffer[65536];
    for (;;) {
      iovec iov{buffer, sizeof buffer};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
      take_descriptors(msg);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) done_ = true;
        return;
      }
      if (n == 0) {
        done_ = true;
        return;
      }
      if (!take(std::string_view(buffer, static_cast<size_t>(n)))) return;
    }
  }

 private:
  void take_descriptors(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
        int passed;
        memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        // Only one descriptor is ever expected, with the 'L' record.
        if (!listener_ && !setup_done_) {
          listener_.reset(passed);
        } else {
          ::close(passed);
        }
      }
    }
  }

  // False when nothing more is to be read.
  bool take(std::string_view bytes) {
    if (!setup_done_) {
      setup_bytes_.append(bytes);
      const setup_record::Parsed record =
          setup_record::parse(setup_bytes_.data(), setup_bytes_.size());
      switch (record.state) {
        case setup_record::Parsed::State::kIncomplete:
          return true;
        case setup_record::Parsed::State::kReady:
        case setup_record::Parsed::State::kReadyWithListener: {
          setup_done_ = true;
          // What followed the record: the 'W', or the start of the reply.
          const std::string rest = setup_bytes_.substr(record.consumed);
          setup_bytes_.clear();
          if (want_warm_) return take_warm(rest);
          frames_.feed(rest);
          return check_reply();
        }
        case setup_record::Parsed::State::kFailed:
          setup_failure_ = "sandbox setup failed: " + record.failure;
          done_ = true;
          return false;
        case setup_record::Parsed::State::kMalformed:
          problem_ = "malformed setup record";
          done_ = true;
          return false;
      }
    }
    if (want_warm_) return take_warm(bytes);
    frames_.feed(bytes);
    return check_reply();
  }

  // Warming up, after the record: exactly one 'W' (sproutd has sent no
  // request yet, so nothing can follow it).
  bool take_warm(std::string_view bytes) {
    if (bytes.empty()) return true;
    if (bytes.size() == 1 && bytes[0] == setup_record::kWarm) {
      warm_ = true;
    } else {
      problem_ = "malformed warm-up record";
    }
    done_ = true;
    return false;
  }

  // False once the reply is complete or refused.
  bool check_reply() {
    if (std::optional<std::string> body = frames_.next_frame()) {
      agent::InvokeReply reply;
      // One reply and nothing after it.
      const bool alone =
          frames_.complete_frames() == 0 && frames_.partial_bytes() == 0 && !frames_.refused();
      if (!alone || !reply.ParseFromString(*body) ||
          reply.kind() == agent::InvokeReply::KIND_UNSPECIFIED) {
        problem_ = "malformed reply";
      } else {
        reply_ = std::move(reply);
      }
      done_ = true;
      return false;
    }
    if (const auto& refused = frames_.refused()) {
      problem_ = "reply of " + std::to_string(refused->announced_bytes) +
                 " bytes over the limit of " + std::to_string(refused->limit_bytes);
      done_ = true;
      return false;
    }
    return true;
  }

  std::string setup_bytes_;  // until the setup record is complete
  bool setup_done_;
  const bool want_warm_;
  bool warm_ = false;
  std::string setup_failure_;
  UniqueFd listener_;
  FrameReader frames_;
  std::optional<agent::InvokeReply> reply_;
  std::string problem_;
  bool done_ = false;
};

void read_logs(int fd, LogTail& tail, bool* open) {
  char buffer[16384];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      tail.append(std::string_view(buffer, n));
      continue;
    }
    if (n == 0 || (errno != EINTR && errno != EAGAIN)) *open = false;
    if (n < 0 && errno == EINTR) continue;
    return;
  }
}

void classify(InvocationResult& result, const Result<Outcome>& outcome, const ChannelReader& reader,
              uint32_t timeout_ms, const FunctionDefinition& definition) {
  if (outcome) {
    result.metrics.cpu_time_us = outcome->cpu_time_us;
    result.metrics.peak_memory_bytes = outcome->peak_memory_bytes;
  }
  if (reader.reply()) {
    const auto& reply = *reader.reply();
    const agent::SandboxUsage& usage = reply.usage();
    result.metrics.minor_faults = usage.minor_faults();
    result.metrics.major_faults = usage.major_faults();
    result.metrics.voluntary_switches = usage.voluntary_switches();
    result.metrics.involuntary_switches = usage.involuntary_switches();
    if (reply.kind() == agent::InvokeReply::OK) {
      if (reply.result().size() > definition.max_result_bytes) {
        result.status = InvocationStatus::kFunctionError;
        result.error_type = "Runtime.ResponseTooLarge";
        result.detail =
            "result of " + std::to_string(reply.result().size()) + " bytes over the limit";
        return;
      }
      result.status = InvocationStatus::kOk;
      result.result = reply.result();
      return;
    }
    result.status = InvocationStatus::kFunctionError;
    result.error_type = reply.error_type();
    result.error_message = reply.error_message();
    result.stack_trace.assign(reply.stack_trace().begin(), reply.stack_trace().end());
    result.detail = reply.error_type() + ": " + reply.error_message();
    return;
  }
  if (!reader.setup_failure().empty()) {
    result.status = InvocationStatus::kInternal;
    result.detail = reader.setup_failure();
    return;
  }
  if (!outcome) {
    result.status = InvocationStatus::kInternal;
    result.detail = outcome.error().message();
    return;
  }
  switch (outcome->kind) {
    case OutcomeKind::kSeccompViolation:
      result.status = InvocationStatus::kSeccompViolation;
      result.detail = "blocked system call " +
                      (outcome->syscall >= 0 ? outcome->syscall_name : std::string("(unknown)"));
      return;
    case OutcomeKind::kDeadlineExceeded:
      result.status = InvocationStatus::kTimeout;
      result.detail = "Task timed out after " + std::to_string(timeout_ms) + " ms";
      return;
    case OutcomeKind::kOutOfMemory:
      result.status = InvocationStatus::kOutOfMemory;
      result.detail = "memory limit of " +
                      std::to_string(definition.sandbox.memory_limit_bytes() >> 20) +
                      " MiB exceeded; killed by the OOM killer";
      return;
    case OutcomeKind::kSignaled:
      result.status = InvocationStatus::kCrashed;
      result.detail = outcome->describe();
      return;
    case OutcomeKind::kExited: {
      // Gone without an answer after its memory ran out: the OOM killer
      // acted in its leaf, or its peak reached the limit (a process that
      // ends itself when an allocation fails: seen once among a soak run's
      // 100 calls of a 1 GiB hog under 64 MiB, exit 0 at the limit).
      const uint64_t limit = definition.sandbox.memory_limit_bytes();
      if (outcome->oom_kills > 0 || (limit > 0 && outcome->peak_memory_bytes >= limit)) {
        result.status = InvocationStatus::kOutOfMemory;
        result.detail = "memory limit of " + std::to_string(limit >> 20) +
                        " MiB reached; " + outcome->describe() + " without answering";
        return;
      }
      result.status = InvocationStatus::kCrashed;
      result.detail = outcome->describe() + " without answering" +
                      (reader.problem().empty() ? "" : " (" + reader.problem() + ")");
      return;
    }
    case OutcomeKind::kKilled:
      result.status = InvocationStatus::kInternal;
      result.detail = "cancelled: the caller went away, the sandbox was killed";
      return;
  }
}

}  // namespace

InvocationResult run_invocation(ReadySandbox& ready, const agent::InvokeRequest& request,
                                uint32_t timeout_ms, const FunctionDefinition& definition,
                                int cancel_fd) {
  InvocationResult result;
  Sandbox& sandbox = ready.sandbox;
  sandbox.restart_clock(timeout_ms);
  // The loop below reads until EAGAIN: a blocking descriptor would hang it.
  if (fcntl(ready.channel.get(), F_SETFL, O_NONBLOCK) != 0 ||
      fcntl(ready.logs.get(), F_SETFL, O_NONBLOCK) != 0) {
    result.status = InvocationStatus::kInternal;
    result.detail = os_error("set O_NONBLOCK", "invocation channel").error().message();
    SandboxReaper::instance().adopt(std::move(sandbox));
    return result;
  }

  Result<std::string> encoded = encode_frame(request);
  if (!encoded) {
    result.status = InvocationStatus::kInternal;
    result.detail = "request not sent: " + encoded.error().message();
    SandboxReaper::instance().adopt(std::move(sandbox));
    return result;
  }
  const std::string out = std::move(*encoded);
  size_t sent = 0;
  ChannelReader reader(definition.max_result_bytes + limits::kFrameEnvelopeBytes,
                       ready.warm ? ChannelReader::Start::kReply
                                  : ChannelReader::Start::kSetupRecord);
  LogTail logs(definition.max_log_bytes);
  bool logs_open = true;
  std::optional<Result<Outcome>> outcome;
  bool cancelled = false;
  // The run time that is billed is measured here, from the request's last
  // byte to the answer's or the sandbox's end: what a sandbox reports about
  // itself is never trusted for money.
  std::optional<std::chrono::steady_clock::time_point> request_delivered;

  // Ends when the sandbox has answered (it is then reaped in the background)
  // or when it is gone without an answer.
  while (!outcome && !reader.reply()) {
    pollfd fds[5];
    nfds_t count = 0;
    fds[count++] = {sandbox.pidfd(), POLLIN, 0};
    const int channel_index = static_cast<int>(count);
    short channel_events = (reader.want_more() ? POLLIN : 0) | (sent < out.size() ? POLLOUT : 0);
    fds[count++] = {channel_events ? ready.channel.get() : -1, channel_events, 0};
    const int logs_index = static_cast<int>(count);
    fds[count++] = {logs_open ? ready.logs.get() : -1, POLLIN, 0};
    const int listener_index = static_cast<int>(count);
    fds[count++] = {sandbox.seccomp_listener(), POLLIN, 0};
    const int cancel_index = static_cast<int>(count);
    fds[count++] = {cancelled ? -1 : cancel_fd, POLLIN, 0};
    int ready_count = poll(fds, count, sandbox.deadline_remaining_ms());
    if (ready_count < 0) {
      if (errno == EINTR) continue;
      // sprout's own failure, not the function's deadline: say so, with the
      // errno. A sandbox nobody can watch any more is killed (and reaped by
      // the reaper), never left running.
      const int err = errno;
      result.status = InvocationStatus::kInternal;
      result.detail =
          os_error("poll", "sandbox " + std::to_string(sandbox.pid()), err).error().message();
      SandboxReaper::instance().adopt(std::move(sandbox));
      if (logs_open) read_logs(ready.logs.get(), logs, &logs_open);
      result.logs = logs.text();
      result.logs_truncated = logs.truncated();
      return result;
    }
    if (ready_count == 0) {
      sandbox.kill_at_deadline();
      continue;
    }
    if (fds[cancel_index].revents & POLLIN) {
      cancelled = true;
      (void)sandbox.kill();
    }
    if (fds[listener_index].revents & POLLIN) sandbox.handle_seccomp_notification();
    if (fds[listener_index].revents & (POLLHUP | POLLERR)) sandbox.drop_seccomp_listener();
    if (fds[channel_index].revents & POLLOUT) {
      ssize_t n = send(ready.channel.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
      if (sent == out.size()) request_delivered = std::chrono::steady_clock::now();
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        sent = out.size();  // the sandbox is gone; wait for its end
    }
    if (fds[channel_index].revents & (POLLIN | POLLHUP | POLLERR)) {
      reader.read_from(ready.channel.get());
      // The sandbox's seccomp listener travels with its setup record.
      if (UniqueFd listener = reader.take_listener())
        sandbox.set_seccomp_listener(std::move(listener));
    }
    if (fds[logs_index].revents & (POLLIN | POLLHUP | POLLERR))
      read_logs(ready.logs.get(), logs, &logs_open);
    if (fds[0].revents & POLLIN) outcome = sandbox.reap();
  }
  if (!outcome) {
    // Answered. Its logs were flushed before the answer, so the pipe holds
    // them all; usage is read now, while the leaf still accounts for it.
    Outcome answered;
    if (SandboxCgroup* cgroup = sandbox.cgroup()) {
      CgroupUsage usage = cgroup->read_usage();
      answered.cpu_time_us = usage.cpu_time_us;
      answered.peak_memory_bytes = usage.peak_memory_bytes;
    }
    outcome = answered;
    SandboxReaper::instance().adopt(std::move(sandbox));
  } else if (reader.want_more()) {
    // The sandbox is gone: whatever it wrote is in the kernel's buffers now.
    reader.read_from(ready.channel.get());
  }
  if (logs_open) read_logs(ready.logs.get(), logs, &logs_open);
  if (request_delivered) {
    result.metrics.run_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - *request_delivered)
                                .count();
  }

  result.logs = logs.text();
  result.logs_truncated = logs.truncated();
  classify(result, *outcome, reader, timeout_ms, definition);
  return result;
}

Result<void> await_warm(ReadySandbox& ready, uint32_t deadline_ms) {
  Sandbox& sandbox = ready.sandbox;
  if (fcntl(ready.channel.get(), F_SETFL, O_NONBLOCK) != 0)
    return os_error("set O_NONBLOCK", "invocation channel");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  ChannelReader reader(0, ChannelReader::Start::kSetupRecordAndWarm);
  auto fail = [&](std::string why) -> Result<void> {
    // Never handed out: killed, and reaped in the background.
    SandboxReaper::instance().adopt(std::move(sandbox));
    return plain_error("pre-fork sandbox", std::move(why));
  };
  while (reader.want_more()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return fail("did not warm up within " + std::to_string(deadline_ms) +
                  " ms (a blocking at-fork hook?)");
    }
    // Its seccomp listener is watched from the moment it arrives: function
    // code (at-fork hooks) runs during the warm-up.
    pollfd fds[3] = {{ready.channel.get(), POLLIN, 0},
                     {sandbox.pidfd(), POLLIN, 0},
                     {sandbox.seccomp_listener(), POLLIN, 0}};
    if (poll(fds, 3, static_cast<int>(left.count())) < 0) {
      if (errno == EINTR) continue;
      return fail(os_error("poll", "sandbox " + std::to_string(sandbox.pid())).error().message());
    }
    if (fds[2].revents & POLLIN) sandbox.handle_seccomp_notification();
    if (fds[2].revents & (POLLHUP | POLLERR)) sandbox.drop_seccomp_listener();
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      reader.read_from(ready.channel.get());
      if (UniqueFd listener = reader.take_listener())
        sandbox.set_seccomp_listener(std::move(listener));
    }
    if (reader.want_more() && (fds[1].revents & POLLIN)) {
      reader.read_from(ready.channel.get());  // what it wrote before it ended
      if (reader.want_more()) break;
    }
  }
  if (reader.warm()) {
    ready.warm = true;
    return {};
  }
  if (!reader.setup_failure().empty()) return fail(reader.setup_failure());
  if (!reader.problem().empty()) return fail(reader.problem());
  return fail("ended while warming up");
}

}  // namespace sprout
