// Stream framing, for SOCK_STREAM sockets (API connections, a sandbox's
// invocation channel): a 4-byte big-endian length, then the body, one
// serialized protobuf message. A length is checked against the reader's
// limit before a byte of the body is kept (protocol/frame_reader.h, which
// every reader of frames uses); the limits are in protocol/limits.h.
// Blocking reads and writes here; non-blocking readers feed a FrameReader.
#pragma once

#include <google/protobuf/message_lite.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/errors.h"

namespace sprout {

inline constexpr size_t kFrameHeaderBytes = 4;

// The length a frame header announces, and the header of a body of `length`.
uint32_t decode_frame_length(const char (&header)[kFrameHeaderBytes]);
void encode_frame_length(uint32_t length, char (&header)[kFrameHeaderBytes]);

// The whole frame of `message`, serialized in place after its header (no
// second copy of the body). Fails only for a message protobuf cannot
// serialize (2 GiB or more).
Result<std::string> encode_frame(const google::protobuf::MessageLite& message);

// Blocking: the whole frame, or an error.
Result<void> write_frame(int fd, const google::protobuf::MessageLite& message);
// Blocking: reads exactly one frame (never a byte past it) of at most
// `max_body_bytes`, and parses it into `message`. The end of the stream,
// before or within the frame, is the peer-closed error
// (protocol/peer_closed.h).
Result<void> read_frame(int fd, google::protobuf::MessageLite& message, size_t max_body_bytes);

// Writes all of `data` (a frame, or bytes before the frames), blocking.
Result<void> write_all(int fd, const void* data, size_t size);

}  // namespace sprout
