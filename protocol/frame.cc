#include "protocol/frame.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "base/unique_fd.h"
#include "protocol/frame_reader.h"
#include "protocol/peer_closed.h"

namespace sprout {

uint32_t decode_frame_length(const char (&header)[kFrameHeaderBytes]) {
  uint32_t length_be;
  memcpy(&length_be, header, kFrameHeaderBytes);
  return ntohl(length_be);
}

void encode_frame_length(uint32_t length, char (&header)[kFrameHeaderBytes]) {
  const uint32_t length_be = htonl(length);
  memcpy(header, &length_be, kFrameHeaderBytes);
}

Result<std::string> encode_frame(const google::protobuf::MessageLite& message) {
  const size_t body_size = message.ByteSizeLong();
  // protobuf serializes at most INT_MAX bytes, well below what 4 bytes announce.
  if (body_size > static_cast<size_t>(INT_MAX)) {
    return plain_error("encode frame",
                       "message of " + std::to_string(body_size) + " bytes is too large");
  }
  std::string frame(kFrameHeaderBytes + body_size, '\0');
  char header[kFrameHeaderBytes];
  encode_frame_length(static_cast<uint32_t>(body_size), header);
  memcpy(frame.data(), header, kFrameHeaderBytes);
  if (!message.SerializeToArray(frame.data() + kFrameHeaderBytes, static_cast<int>(body_size)))
    return plain_error("encode frame", "serialization failed");
  return frame;
}

Result<void> write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = retry_eintr([&] { return ::send(fd, p, size, MSG_NOSIGNAL); });
    if (n < 0 && errno == ENOTSOCK) n = retry_eintr([&] { return ::write(fd, p, size); });
    if (n < 0) return os_error("write frame");
    p += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> write_frame(int fd, const google::protobuf::MessageLite& message) {
  Result<std::string> frame = encode_frame(message);
  if (!frame) return std::unexpected(frame.error());
  return write_all(fd, frame->data(), frame->size());
}

Result<void> read_frame(int fd, google::protobuf::MessageLite& message, size_t max_body_bytes) {
  FrameReader reader(max_body_bytes);
  char buffer[64 * 1024];
  std::optional<std::string> body;
  while (!(body = reader.next_frame())) {
    if (const auto& refused = reader.refused())
      return plain_error("read frame", refused->describe());
    // Never past this frame: what follows it is not ours to consume.
    const size_t wanted = std::min(sizeof buffer, reader.bytes_to_frame_end());
    ssize_t n = retry_eintr([&] { return ::read(fd, buffer, wanted); });
    if (n < 0) return os_error("read frame");
    if (n == 0) return peer_closed_error("read frame");
    reader.feed({buffer, static_cast<size_t>(n)});
  }
  if (!message.ParseFromString(*body)) return plain_error("read frame", "malformed message");
  return {};
}

}  // namespace sprout
