#include "agent/sandbox_entry.h"

#include <sys/resource.h>
#include <unistd.h>

#include "protocol/limits.h"
#include "protocol/message_channel.h"
#include "protocol/setup_record.h"

namespace sprout::agent {

int run_sandbox_entry(void* arg) {
  auto* runtime = static_cast<Runtime*>(arg);
  // sproutd's go: it has placed us in our cgroup. No function code (the
  // runtime's after-fork hooks included) runs before that.
  char go = 0;
  if (retry_eintr([&] { return read(kInvocationChannelFd, &go, 1); }) != 1) return 0;
  if (go != kPlacedByteValue && go != kPlacedPreforkByteValue) return 5;
  runtime->after_fork_child();
  if (go == kPlacedPreforkByteValue) {
    // Pre-forked: nobody waits for us yet. Take the invocation path's
    // copy-on-write faults now, then tell sproutd we are ready to serve at
    // full speed (it hands out only warm sandboxes).
    runtime->warm_up();
    runtime->flush_output();
    const char warm = setup_record::kWarm;
    if (retry_eintr([&] { return write(kInvocationChannelFd, &warm, 1); }) != 1) return 3;
  }
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
