// Reassembles stream frames (protocol/frame.h) from bytes that arrive in
// pieces of any size: one byte at a time, a frame in one read, or several
// frames in one read. The one frame parser of the project: sproutd's API
// connections, the client library, a sandbox's reply and the blocking
// read_frame() all feed one.
//
// Nothing a peer sends is trusted. A frame's announced length is checked
// against the limit as soon as its header is complete, before a byte of its
// body is kept; the body then grows only with the bytes that actually
// arrive, never from the announced length, so a peer that announces a large
// frame and sends nothing costs nothing. A refused length ends the stream:
// it cannot be resynchronized, and the reader takes no more bytes.
// Not thread-safe: one reader per stream, used by one thread at a time.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/frame.h"

namespace sprout {

// Why a FrameReader stopped: a frame announced more than its limit.
struct FrameTooLarge {
  size_t announced_bytes = 0;
  size_t limit_bytes = 0;

  // "frame of 1073741824 bytes over the limit of 6356992"
  std::string describe() const;
};

class FrameReader {
 public:
  explicit FrameReader(size_t max_body_bytes);

  // Takes bytes received from the stream and completes as many frames as
  // they hold. Ignored once a length was refused.
  void feed(std::string_view bytes);

  // The body of the oldest complete frame not yet taken; nothing when no
  // frame is complete.
  std::optional<std::string> next_frame();

  // Set once a frame announced a body over the limit.
  const std::optional<FrameTooLarge>& refused() const { return refused_; }

  // Complete frames not yet taken.
  size_t complete_frames() const { return complete_.size(); }
  // Bytes held of the frame in progress: its header and its body so far.
  // Non-zero at the end of the stream means the last frame was truncated.
  size_t partial_bytes() const;
  // Bytes that complete the frame in progress (or the next header, when
  // none is in progress): a blocking reader that never reads more than this
  // never reads past a frame. Zero once a length was refused.
  size_t bytes_to_frame_end() const;

 private:
  void complete_frame();

  const size_t max_body_bytes_;
  char header_[kFrameHeaderBytes] = {};
  size_t header_bytes_ = 0;  // of the frame in progress
  size_t body_length_ = 0;   // announced, once the header is complete
  std::string body_;         // received so far
  std::deque<std::string> complete_;
  std::optional<FrameTooLarge> refused_;
};

}  // namespace sprout
