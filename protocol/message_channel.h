// Protobuf messages over Unix sockets, with descriptors: both framings, one
// per socket type, for callers that use both.
//   SOCK_SEQPACKET (control channels): protocol/packet.h
//   SOCK_STREAM (invocation channels, API connections): protocol/frame.h,
//     and protocol/frame_reader.h for non-blocking readers
// Every read is size-bounded (protocol/limits.h) and every parse failure is
// an error: nothing a peer sends is trusted. Thread-compatible (one reader
// and one writer at most per channel).
#pragma once

#include "protocol/frame.h"
#include "protocol/limits.h"
#include "protocol/packet.h"
#include "protocol/peer_closed.h"
