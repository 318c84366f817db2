// Every size limit of sprout's protocols, defined once. Where a limit can be
// configured (sproutd's --max-frame-bytes), this is its default.
#pragma once

#include <cstddef>

namespace sprout::limits {

// AWS Lambda's limit on a synchronous invocation's payload and on its
// result: 6 MiB each.
inline constexpr size_t kMaxPayloadBytes = 6 * 1024 * 1024;
inline constexpr size_t kMaxResultBytes = kMaxPayloadBytes;

// Room a frame leaves for the fields around a payload or a result: ids,
// names, an error's type, message and stack trace.
inline constexpr size_t kFrameEnvelopeBytes = 64 * 1024;

// Largest API frame (stream framing, api/proto/sprout_api.proto): sproutd
// refuses a larger request unread (the default of --max-frame-bytes) and the
// client does not send one. A code bundle travels in one frame, so it shares
// this limit.
inline constexpr size_t kMaxApiFrameBytes = kMaxPayloadBytes + kFrameEnvelopeBytes;

// Largest answer frame the client reads from sproutd. An answer holds at
// most a result plus logs and metrics, but a list of functions may be long:
// generous, and still bounded, so that a wrong peer cannot make the client
// allocate without limit.
inline constexpr size_t kMaxApiResponseFrameBytes = 64 * 1024 * 1024;

// Largest request frame a sandbox reads on its invocation channel: a
// payload plus the invocation's context. Only sproutd writes it.
inline constexpr size_t kMaxSandboxRequestFrameBytes = kMaxPayloadBytes + 1024 * 1024;
static_assert(kMaxSandboxRequestFrameBytes >= kMaxPayloadBytes + kFrameEnvelopeBytes);

// A sandbox's reply frame is bounded per function: its result limit
// (FunctionDefinition::max_result_bytes, kMaxResultBytes by default) plus
// kFrameEnvelopeBytes.

// Control channels (SOCK_SEQPACKET) between snapshot/ and the agent: the
// largest message and the most descriptors passed with one.
inline constexpr size_t kMaxControlMessageBytes = 64 * 1024;
inline constexpr size_t kMaxPassedFds = 16;

}  // namespace sprout::limits
