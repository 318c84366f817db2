// protocol/: the stream framing (FrameReader, encode_frame, the blocking
// read_frame over a socket) and the sandbox's setup record, fed the way
// peers really send: byte by byte, all at once, several frames per read,
// lying lengths, truncated streams.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "protocol/frame.h"
#include "protocol/frame_reader.h"
#include "protocol/limits.h"
#include "protocol/peer_closed.h"
#include "protocol/setup_record.h"

namespace sprout {
namespace {

std::string frame_of(const std::string& body) {
  char header[kFrameHeaderBytes];
  encode_frame_length(static_cast<uint32_t>(body.size()), header);
  return std::string(header, kFrameHeaderBytes) + body;
}

std::vector<std::string> drain(FrameReader& reader) {
  std::vector<std::string> bodies;
  while (std::optional<std::string> body = reader.next_frame()) bodies.push_back(*body);
  return bodies;
}

TEST(FrameReader, FedByteByByteCompletesTheFrameOnItsLastByte) {
  const std::string frame = frame_of("hello, frames");
  FrameReader reader(1024);
  for (size_t i = 0; i + 1 < frame.size(); ++i) {
    reader.feed(frame.substr(i, 1));
    EXPECT_FALSE(reader.next_frame()) << "complete after " << i + 1 << " bytes";
    EXPECT_EQ(reader.partial_bytes(), i + 1);
    EXPECT_EQ(reader.bytes_to_frame_end(),
              i + 1 < kFrameHeaderBytes ? kFrameHeaderBytes - (i + 1) : frame.size() - (i + 1));
  }
  reader.feed(frame.substr(frame.size() - 1));
  EXPECT_EQ(reader.next_frame(), "hello, frames");
  EXPECT_EQ(reader.partial_bytes(), 0u);
  EXPECT_FALSE(reader.refused());
}

TEST(FrameReader, OneFrameInOneRead) {
  FrameReader reader(1024);
  reader.feed(frame_of("whole"));
  EXPECT_EQ(drain(reader), std::vector<std::string>{"whole"});
  EXPECT_EQ(reader.partial_bytes(), 0u);
}

TEST(FrameReader, SeveralFramesInOneReadComeOutInOrderAndKeepTheRest) {
  const std::string next = frame_of("third, in two reads");
  FrameReader reader(1024);
  reader.feed(frame_of("first") + frame_of("second") + next.substr(0, 6));
  EXPECT_EQ(reader.complete_frames(), 2u);
  EXPECT_EQ(drain(reader), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(reader.partial_bytes(), 6u) << "the start of the third frame is kept";
  reader.feed(next.substr(6));
  EXPECT_EQ(drain(reader), std::vector<std::string>{"third, in two reads"});
}

TEST(FrameReader, ZeroLengthFrameIsAnEmptyBody) {
  FrameReader reader(1024);
  reader.feed(frame_of("") + frame_of("after"));
  EXPECT_EQ(drain(reader), (std::vector<std::string>{"", "after"}));
}

TEST(FrameReader, FrameOfExactlyTheLimitIsAccepted) {
  FrameReader reader(5);
  reader.feed(frame_of("12345"));
  EXPECT_EQ(reader.next_frame(), "12345");
  EXPECT_FALSE(reader.refused());
}

TEST(FrameReader, OversizedLengthIsRefusedBeforeAnyBodyByteIsKept) {
  FrameReader reader(4096);
  char header[kFrameHeaderBytes];
  encode_frame_length(1u << 30, header);  // announces 1 GiB
  // The header and the start of the body arrive in the same read.
  reader.feed(std::string(header, kFrameHeaderBytes) + std::string(60000, 'x'));
  ASSERT_TRUE(reader.refused());
  EXPECT_EQ(reader.refused()->announced_bytes, 1u << 30);
  EXPECT_EQ(reader.refused()->limit_bytes, 4096u);
  EXPECT_EQ(reader.refused()->describe(), "frame of 1073741824 bytes over the limit of 4096");
  EXPECT_LE(reader.partial_bytes(), kFrameHeaderBytes) << "no body byte buffered";
  EXPECT_EQ(reader.bytes_to_frame_end(), 0u);
  // The stream cannot be resynchronized: later bytes are not taken.
  reader.feed(frame_of("ignored"));
  EXPECT_FALSE(reader.next_frame());
  EXPECT_LE(reader.partial_bytes(), kFrameHeaderBytes);
}

TEST(FrameReader, FramesBeforeARefusedOneAreStillDelivered) {
  FrameReader reader(16);
  reader.feed(frame_of("fine") + frame_of(std::string(17, 'x')));
  EXPECT_EQ(reader.next_frame(), "fine");
  EXPECT_TRUE(reader.refused());
}

TEST(FrameReader, BodyGrowsWithTheBytesReceivedNotTheAnnouncedLength) {
  FrameReader reader(limits::kMaxApiFrameBytes);
  char header[kFrameHeaderBytes];
  encode_frame_length(static_cast<uint32_t>(limits::kMaxApiFrameBytes), header);
  reader.feed(std::string(header, kFrameHeaderBytes) + "abc");
  EXPECT_FALSE(reader.refused());
  EXPECT_EQ(reader.partial_bytes(), kFrameHeaderBytes + 3);
  EXPECT_EQ(reader.bytes_to_frame_end(), limits::kMaxApiFrameBytes - 3);
}

TEST(FrameReader, TruncatedFrameAtTheEndOfTheStreamIsVisible) {
  const std::string frame = frame_of("cut short");
  FrameReader in_header(1024);
  in_header.feed(frame.substr(0, 2));
  EXPECT_FALSE(in_header.next_frame());
  EXPECT_EQ(in_header.partial_bytes(), 2u) << "the stream ended inside a header";

  FrameReader in_body(1024);
  in_body.feed(frame.substr(0, frame.size() - 1));
  EXPECT_FALSE(in_body.next_frame());
  EXPECT_EQ(in_body.partial_bytes(), frame.size() - 1) << "the stream ended inside a body";

  FrameReader clean(1024);
  clean.feed(frame);
  EXPECT_TRUE(clean.next_frame());
  EXPECT_EQ(clean.partial_bytes(), 0u) << "an end between frames is clean";
}

// The blocking side, over a real socket pair.
class BlockingFrames : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    for (int fd : fds_)
      if (fd >= 0) close(fd);
  }
  void send_raw(const std::string& bytes) {
    ASSERT_TRUE(write_all(fds_[0], bytes.data(), bytes.size()));
  }
  void close_writer() {
    close(fds_[0]);
    fds_[0] = -1;
  }
  int fds_[2] = {-1, -1};
};

TEST_F(BlockingFrames, WriteThenReadRoundTripsAndReadsNoBytePastTheFrame) {
  api::Request first;
  first.set_id(7);
  first.mutable_invoke()->set_payload(std::string(200000, 'p'));  // more than one read
  api::Request second;
  second.set_id(8);
  ASSERT_TRUE(write_frame(fds_[0], first));
  ASSERT_TRUE(write_frame(fds_[0], second));
  api::Request got;
  ASSERT_TRUE(read_frame(fds_[1], got, limits::kMaxApiFrameBytes));
  EXPECT_EQ(got.id(), 7u);
  EXPECT_EQ(got.invoke().payload().size(), 200000u);
  ASSERT_TRUE(read_frame(fds_[1], got, limits::kMaxApiFrameBytes));
  EXPECT_EQ(got.id(), 8u);
}

TEST_F(BlockingFrames, EncodedFrameAnnouncesItsBody) {
  api::Request request;
  request.set_id(3);
  Result<std::string> frame = encode_frame(request);
  ASSERT_TRUE(frame);
  EXPECT_EQ(*frame, frame_of(request.SerializeAsString()));
}

TEST_F(BlockingFrames, OversizedFrameIsAnErrorNamingBothSizes) {
  send_raw(frame_of(std::string(100, 'x')));
  api::Request got;
  Result<void> read = read_frame(fds_[1], got, 99);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().detail, "frame of 100 bytes over the limit of 99");
  EXPECT_FALSE(is_peer_closed(read.error()));
}

TEST_F(BlockingFrames, MalformedBodyIsAnError) {
  send_raw(frame_of("\xff\xff\xff not protobuf"));
  api::Request got;
  Result<void> read = read_frame(fds_[1], got, 1024);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().detail, "malformed message");
}

TEST_F(BlockingFrames, EndOfStreamBeforeOrWithinAFrameIsPeerClosed) {
  send_raw(frame_of("truncated").substr(0, 7));
  close_writer();
  api::Request got;
  Result<void> within = read_frame(fds_[1], got, 1024);
  ASSERT_FALSE(within);
  EXPECT_TRUE(is_peer_closed(within.error()));
  Result<void> before = read_frame(fds_[1], got, 1024);
  ASSERT_FALSE(before);
  EXPECT_TRUE(is_peer_closed(before.error()));
}

// The sandbox's setup record (protocol/setup_record.h), as sproutd parses it.
using setup_record::Parsed;

std::string failure_record(const std::vector<const char*>& parts) {
  char buffer[setup_record::kMaxRecordBytes];
  const size_t size = setup_record::encode_failure(buffer, parts.data(), parts.size());
  return std::string(buffer, size);
}

TEST(SetupRecord, NothingYetIsIncomplete) {
  EXPECT_EQ(setup_record::parse("", 0).state, Parsed::State::kIncomplete);
}

TEST(SetupRecord, ReadyIsOneByteAndLeavesTheFramesAfterIt) {
  const std::string bytes = "R" + frame_of("reply");
  const Parsed parsed = setup_record::parse(bytes.data(), bytes.size());
  EXPECT_EQ(parsed.state, Parsed::State::kReady);
  EXPECT_EQ(parsed.consumed, 1u);
}

TEST(SetupRecord, ReadyWithListener) {
  const Parsed parsed = setup_record::parse("L", 1);
  EXPECT_EQ(parsed.state, Parsed::State::kReadyWithListener);
  EXPECT_EQ(parsed.consumed, 1u);
}

TEST(SetupRecord, FailureCarriesTheFailedStepAndIsIncompleteUntilWhole) {
  const std::string record = failure_record({"mount tmpfs on /tmp", ": ", "EPERM"});
  for (size_t size = 1; size < record.size(); ++size) {
    EXPECT_EQ(setup_record::parse(record.data(), size).state, Parsed::State::kIncomplete)
        << size << " bytes";
  }
  const Parsed parsed = setup_record::parse(record.data(), record.size());
  EXPECT_EQ(parsed.state, Parsed::State::kFailed);
  EXPECT_EQ(parsed.failure, "mount tmpfs on /tmp: EPERM");
  EXPECT_EQ(parsed.consumed, record.size());
}

TEST(SetupRecord, FailureTextLongerThanTheLimitIsCut) {
  const std::string long_text(setup_record::kMaxFailureText + 100, 'e');
  const std::string record = failure_record({long_text.c_str()});
  EXPECT_EQ(record.size(), setup_record::kMaxRecordBytes);
  const Parsed parsed = setup_record::parse(record.data(), record.size());
  EXPECT_EQ(parsed.state, Parsed::State::kFailed);
  EXPECT_EQ(parsed.failure.size(), setup_record::kMaxFailureText);
}

TEST(SetupRecord, UnknownKindIsMalformed) {
  EXPECT_EQ(setup_record::parse("X", 1).state, Parsed::State::kMalformed);
  const std::string frame_first = frame_of("no record");
  EXPECT_EQ(setup_record::parse(frame_first.data(), frame_first.size()).state,
            Parsed::State::kMalformed);
}

TEST(SetupRecord, FailureAnnouncingMoreThanTheLimitIsMalformedWithoutWaitingForIt) {
  std::string record(3, '\0');
  record[0] = setup_record::kFailed;
  const uint16_t length = setup_record::kMaxFailureText + 1;
  memcpy(record.data() + 1, &length, 2);
  EXPECT_EQ(setup_record::parse(record.data(), record.size()).state, Parsed::State::kMalformed);
}

}  // namespace
}  // namespace sprout
