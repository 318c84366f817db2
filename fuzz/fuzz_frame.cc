// Fuzzes stream framing (protocol/frame_reader.h, protocol/frame.h) and the
// API's Request parsing, as sproutd meets them on a connection.
//
// Input: byte 0 picks the reader's limit, byte 1 seeds how the stream is cut
// into reads; the rest is the stream. The same stream is fed whole, in
// pseudo-random pieces, and one byte at a time; every reader must see what
// an independent reference decoder sees: the same frames, the same refusal,
// the same partial frame. The blocking read_frame() then reads the stream
// from a socket and must agree frame by frame, never reading past a frame.
// Every complete frame is parsed as an api::Request, and a parsed request
// must survive encode_frame() and a second parse unchanged.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "api/proto/sprout_api.pb.h"
#include "base/unique_fd.h"
#include "fuzz/fuzz_support.h"
#include "protocol/frame.h"
#include "protocol/frame_reader.h"
#include "protocol/limits.h"

namespace {

// Aborts with `what`: a broken invariant is a crash for libFuzzer.
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_frame: invariant broken: %s\n", what);
    std::abort();
  }
}

constexpr std::array<size_t, 8> kLimits = {0,    1,    5,    64,
                                           4096, 1 << 16, sprout::limits::kMaxApiFrameBytes,
                                           sprout::limits::kMaxApiResponseFrameBytes};

// What a stream holds, decoded independently of FrameReader.
struct Decoded {
  std::vector<std::string> frames;
  bool refused = false;
  size_t refused_length = 0;
  size_t partial_bytes = 0;  // of a truncated last frame
};

Decoded reference_decode(std::string_view stream, size_t limit) {
  Decoded out;
  while (!stream.empty()) {
    if (stream.size() < sprout::kFrameHeaderBytes) {
      out.partial_bytes = stream.size();
      return out;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(stream.data());
    const size_t length = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    if (length > limit) {
      out.refused = true;
      out.refused_length = length;
      return out;
    }
    if (stream.size() - sprout::kFrameHeaderBytes < length) {
      out.partial_bytes = stream.size();
      return out;
    }
    out.frames.emplace_back(stream.substr(sprout::kFrameHeaderBytes, length));
    stream.remove_prefix(sprout::kFrameHeaderBytes + length);
  }
  return out;
}

// Feeds `stream` in pieces of the sizes `next_piece` returns, checking the
// reader's accounting between pieces, and compares the result with `want`.
template <typename NextPiece>
void feed_and_compare(std::string_view stream, size_t limit, const Decoded& want,
                      NextPiece next_piece) {
  sprout::FrameReader reader(limit);
  std::vector<std::string> frames;
  while (!stream.empty()) {
    const size_t piece = std::min(stream.size(), std::max<size_t>(1, next_piece()));
    reader.feed(stream.substr(0, piece));
    stream.remove_prefix(piece);
    // A blocking reader asks for at most this: never zero while it can go on.
    check((reader.bytes_to_frame_end() == 0) == reader.refused().has_value(),
          "bytes_to_frame_end is zero exactly when refused");
    if (!reader.refused()) {
      const size_t in_progress = reader.partial_bytes() + reader.bytes_to_frame_end();
      check(in_progress >= sprout::kFrameHeaderBytes &&
                in_progress <= sprout::kFrameHeaderBytes + limit,
            "a frame in progress is a header plus at most the limit");
    }
    // Take frames as they come, as a server does.
    while (auto frame = reader.next_frame()) frames.push_back(std::move(*frame));
  }
  check(frames == want.frames, "same frames as the reference decoder");
  check(reader.refused().has_value() == want.refused, "same refusal as the reference decoder");
  if (want.refused) {
    check(reader.refused()->announced_bytes == want.refused_length &&
              reader.refused()->limit_bytes == limit,
          "the refusal names the announced length and the limit");
  } else {
    check(reader.partial_bytes() == want.partial_bytes, "same partial frame as the reference");
  }
  check(reader.complete_frames() == 0 && !reader.next_frame(), "every frame was taken");
}

// A request that parsed must round-trip through encode_frame and the reader.
void check_request_round_trip(const std::string& body) {
  sprout::api::Request request;
  if (!request.ParseFromString(body)) return;
  // Touch what sproutd reads of every call.
  (void)request.id();
  (void)request.call_case();
  const std::string canonical = request.SerializeAsString();
  auto frame = sprout::encode_frame(request);
  check(frame.has_value(), "encode_frame of a parsed request");
  check(frame->size() == sprout::kFrameHeaderBytes + canonical.size(), "frame size");
  sprout::FrameReader reader(frame->size());
  reader.feed(*frame);
  auto again = reader.next_frame();
  check(again.has_value() && !reader.next_frame(), "an encoded frame reads back as one frame");
  sprout::api::Request reparsed;
  check(reparsed.ParseFromString(*again), "an encoded request parses");
  // Compared as messages: a map's serialized order is not deterministic.
  check(google::protobuf::util::MessageDifferencer::Equals(request, reparsed),
        "an encoded request reads back unchanged");
}

// read_frame() over a real socket: one frame per call, never a byte past it.
void check_blocking_reader(std::string_view stream, size_t limit, const Decoded& want) {
  // Bounded so that the whole stream fits in the socket buffer at once.
  if (stream.size() > 32 * 1024) return;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return;
  sprout::UniqueFd reading(pair[0]);
  sprout::UniqueFd writing(pair[1]);
  int buffer = 256 * 1024;
  (void)::setsockopt(writing.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  check(sprout::write_all(writing.get(), stream.data(), stream.size()).has_value(),
        "write the stream to the socket");
  writing = sprout::UniqueFd();
  for (const std::string& body : want.frames) {
    sprout::api::Request request;
    auto read = sprout::read_frame(reading.get(), request, limit);
    sprout::api::Request expected;
    const bool parses = expected.ParseFromString(body);
    check(read.has_value() == parses, "read_frame parses exactly the frames that parse");
    if (parses) {
      check(google::protobuf::util::MessageDifferencer::Equals(request, expected),
            "read_frame reads the frame's request");
    }
  }
  sprout::api::Request last;
  auto read = sprout::read_frame(reading.get(), last, limit);
  check(!read.has_value(), "nothing after the last frame");
  // A refused frame's body is not read: what is left is the body's bytes.
  char rest[1];
  const ssize_t left = ::recv(reading.get(), rest, sizeof rest, MSG_DONTWAIT);
  if (!want.refused) check(left == 0, "read_frame consumed exactly the frames and the tail");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sprout::fuzz::silence_protobuf_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t limit = kLimits[data[0] % kLimits.size()];
  uint32_t seed = data[1] * 2654435761u + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  const Decoded want = reference_decode(stream, limit);

  feed_and_compare(stream, limit, want, [&] { return stream.size(); });
  feed_and_compare(stream, limit, want, [] { return size_t{1}; });
  feed_and_compare(stream, limit, want, [&] {
    seed = seed * 1103515245u + 12345u;  // piece sizes 1..16, sometimes larger
    const uint32_t r = seed >> 16;
    return (r & 0x700) == 0 ? size_t{r & 0x3ff} : size_t{(r & 0xf) + 1};
  });

  {  // The frame header helpers are inverses.
    char header[sprout::kFrameHeaderBytes];
    const uint32_t length = seed ^ static_cast<uint32_t>(size);
    sprout::encode_frame_length(length, header);
    check(sprout::decode_frame_length(header) == length, "frame length round trip");
  }

  for (const std::string& body : want.frames) check_request_round_trip(body);
  check_blocking_reader(stream, limit, want);
  return 0;
}
