#include "protocol/peer_closed.h"

namespace sprout {

std::unexpected<Error> peer_closed_error(std::string step) {
  return plain_error(ErrorCode::kPeerClosed, std::move(step), "peer closed the channel");
}

bool is_peer_closed(const Error& error) { return error.code == ErrorCode::kPeerClosed; }

}  // namespace sprout
