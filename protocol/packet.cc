#include "protocol/packet.h"

#include <sys/socket.h>

#include <cstring>
#include <string>

#include "protocol/limits.h"
#include "protocol/peer_closed.h"

namespace sprout {

Result<void> send_packet(int fd, const google::protobuf::MessageLite& message,
                         const std::vector<int>& fds) {
  std::string body;
  if (!message.SerializeToString(&body))
    return plain_error("send control message", "serialization failed");
  if (body.size() > limits::kMaxControlMessageBytes) {
    return plain_error("send control message",
                       "message of " + std::to_string(body.size()) + " bytes over the limit");
  }
  if (fds.size() > limits::kMaxPassedFds)
    return plain_error("send control message", "too many descriptors");
  // An empty message is still one packet; a zero-length iov would be lost.
  body.insert(body.begin(), '\x01');
  iovec iov{body.data(), body.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * limits::kMaxPassedFds)] = {};
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
  static thread_local std::string buffer(limits::kMaxControlMessageBytes + 2, '\0');
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * limits::kMaxPassedFds)] = {};
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
  if (n == 0) return peer_closed_error("receive control message");
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

}  // namespace sprout
