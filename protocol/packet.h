// Packet framing, for SOCK_SEQPACKET control channels (sproutd and the
// agent's zygotes and snapshots): one protobuf message per packet, with
// descriptors passed by SCM_RIGHTS in the same packet. A packet carries at
// most limits::kMaxControlMessageBytes and limits::kMaxPassedFds
// descriptors; a longer one is an error, never a partial message.
#pragma once

#include <google/protobuf/message_lite.h>

#include <vector>

#include "base/errors.h"
#include "base/unique_fd.h"

namespace sprout {

Result<void> send_packet(int fd, const google::protobuf::MessageLite& message,
                         const std::vector<int>& fds = {});
// Fills `message` and `fds`. An orderly close of the peer is the
// peer-closed error (protocol/peer_closed.h).
Result<void> receive_packet(int fd, google::protobuf::MessageLite& message,
                            std::vector<UniqueFd>* fds = nullptr);

}  // namespace sprout
