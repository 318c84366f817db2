// The end of a channel, as an error value: the peer closed it (an orderly
// close, EOF on a stream, a zero-length read on a packet socket). Callers
// tell it apart from a failure, e.g. a pre-forked sandbox whose channel
// closes before any request exits quietly.
#pragma once

#include <string>

#include "base/errors.h"

namespace sprout {

// The error of `step` ("read frame", "receive control message") ending at
// the peer's close.
std::unexpected<Error> peer_closed_error(std::string step);
bool is_peer_closed(const Error& error);

}  // namespace sprout
