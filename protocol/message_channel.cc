#include "protocol/message_channel.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

namespace sprout {
namespace {

constexpr const char* kPeerClosed = "peer closed the channel";

}  // namespace

bool is_peer_closed(const Error& error) { return error.err == 0 && error.detail == kPeerClosed; }

Result<void> send_packet(int fd, const google::protobuf::MessageLite& message,
                         const std::vector<int>& fds) {
  std::string body;
  if (!message.SerializeToString(&body))
    return plain_error("send control message", "serialization failed");
  if (body.size() > kMaxControlMessage) {
    return plain_error("send control message",
                       "message of " + std::to_string(body.size()) + " bytes over the limit");
  }
  if (fds.size() > kMaxPassedFds)
    return plain_error("send control message", "too many descriptors");
  // An empty message is still one packet; a zero-length iov would be lost.
  body.insert(body.begin(), '\x01');
  iovec iov{body.data(), body.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t sent = retry_eintr([&] { return ::sendmsg(fd, &msg, MSG_NOSIGNAL); });
  if (sent < 0) return os_error("send control message");
  return {};
}

Result<void> receive_packet(int fd, google::protobuf::MessageLite& message,
                            std::vector<UniqueFd>* fds) {
  static thread_local std::string buffer(kMaxControlMessage + 2, '\0');
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = retry_eintr([&] { return ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC); });
  if (n < 0) return os_error("receive control message");
  // Take ownership of passed descriptors first, so none leaks on any error.
  std::vector<UniqueFd> received;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int passed;
      memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      received.emplace_back(passed);
    }
  }
  if (n == 0) return std::unexpected(Error{"receive control message", "", 0, kPeerClosed});
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
    return plain_error("receive control message", "message truncated");
  if (buffer[0] != '\x01') return plain_error("receive control message", "bad packet marker");
  if (!message.ParseFromArray(buffer.data() + 1, static_cast<int>(n - 1))) {
    return plain_error("receive control message", "malformed message");
  }
  if (fds) {
    *fds = std::move(received);
  }
  return {};
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

Result<void> read_exact(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = retry_eintr([&] { return ::read(fd, p, size); });
    if (n < 0) return os_error("read frame");
    if (n == 0) return std::unexpected(Error{"read frame", "", 0, kPeerClosed});
    p += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> write_frame(int fd, const google::protobuf::MessageLite& message) {
  std::string body;
  if (!message.SerializeToString(&body)) return plain_error("write frame", "serialization failed");
  if (body.size() > 0xffffffffu) return plain_error("write frame", "message too large");
  uint32_t length = htonl(static_cast<uint32_t>(body.size()));
  std::string frame(reinterpret_cast<const char*>(&length), 4);
  frame += body;
  return write_all(fd, frame.data(), frame.size());
}

Result<void> read_frame(int fd, google::protobuf::MessageLite& message, size_t max_bytes) {
  uint32_t length_be;
  if (auto r = read_exact(fd, &length_be, 4); !r) return r;
  size_t length = ntohl(length_be);
  if (length > max_bytes) {
    return plain_error("read frame", "frame of " + std::to_string(length) +
                                         " bytes over the limit of " + std::to_string(max_bytes));
  }
  std::string body(length, '\0');
  if (auto r = read_exact(fd, body.data(), length); !r) return r;
  if (!message.ParseFromString(body)) return plain_error("read frame", "malformed message");
  return {};
}

}  // namespace sprout
