#include "agent/sandbox_entry.h"

#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "protocol/limits.h"
#include "protocol/message_channel.h"

namespace sprout::agent {

int run_sandbox_entry(void* arg) {
  auto* runtime = static_cast<Runtime*>(arg);
  // sproutd's go: it has placed us in our cgroup. No function code (the
  // runtime's after-fork hooks included) runs before that.
  char go = 0;
  if (retry_eintr([&] { return read(kInvocationChannelFd, &go, 1); }) != 1) return 0;
  if (go != kPlacedByteValue) return 5;
  runtime->after_fork_child();
  pollfd waiting{kInvocationChannelFd, POLLIN, 0};
  if (poll(&waiting, 1, 0) == 0) runtime->warm_up();  // idle: a pre-forked sandbox
  InvokeRequest request;
  auto received = read_frame(kInvocationChannelFd, request, limits::kMaxSandboxRequestFrameBytes);
  // A pre-forked sandbox that is never used sees its channel close: exit quietly.
  if (!received) return is_peer_closed(received.error()) ? 0 : 3;
  InvokeReply reply = runtime->invoke(request);
  runtime->flush_output();
  if (rusage usage{}; getrusage(RUSAGE_SELF, &usage) == 0) {
    SandboxUsage* reported = reply.mutable_usage();
    reported->set_minor_faults(static_cast<uint64_t>(usage.ru_minflt));
    reported->set_major_faults(static_cast<uint64_t>(usage.ru_majflt));
    reported->set_voluntary_switches(static_cast<uint64_t>(usage.ru_nvcsw));
    reported->set_involuntary_switches(static_cast<uint64_t>(usage.ru_nivcsw));
  }
  return write_frame(kInvocationChannelFd, reply) ? 0 : 4;
}

}  // namespace sprout::agent
