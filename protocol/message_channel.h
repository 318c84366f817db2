// Protobuf messages over Unix sockets, with descriptors.
//
// Two framings, one per socket type:
//   SOCK_SEQPACKET (control channels): one message per packet, descriptors by
//     SCM_RIGHTS in the same packet; packets are bounded by kMaxControlMessage.
//   SOCK_STREAM (invocation channels, API connections): 4-byte big-endian
//     length, then the message; the length is checked against the caller's
//     limit before a byte of the body is read.
// Every read is size-bounded and every parse failure is an error: nothing a
// peer sends is trusted. Thread-compatible (one reader and one writer at most).
#pragma once

#include <google/protobuf/message_lite.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/errors.h"
#include "base/unique_fd.h"

namespace sprout {

inline constexpr size_t kMaxControlMessage = 64 * 1024;
inline constexpr size_t kMaxPassedFds = 16;

Result<void> send_packet(int fd, const google::protobuf::MessageLite& message,
                         const std::vector<int>& fds = {});
// Fills `message` and `fds`. An orderly close of the peer is an Error whose
// `err` is 0 and whose detail is "peer closed the channel".
Result<void> receive_packet(int fd, google::protobuf::MessageLite& message,
                            std::vector<UniqueFd>* fds = nullptr);

Result<void> write_frame(int fd, const google::protobuf::MessageLite& message);
Result<void> read_frame(int fd, google::protobuf::MessageLite& message, size_t max_bytes);

// Low-level helpers for the stream framing.
Result<void> write_all(int fd, const void* data, size_t size);
// Reads exactly `size` bytes; EOF before that is an error ("peer closed").
Result<void> read_exact(int fd, void* data, size_t size);

bool is_peer_closed(const Error& error);

}  // namespace sprout
