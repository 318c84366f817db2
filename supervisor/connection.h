// One client connection of sproutd's API socket. Reads frames one after
// another and answers each call when it ends, out of order; answers are
// written in order of completion.
//
// What a client can make sproutd hold is bounded: a frame's memory grows
// only with the bytes that arrive (protocol/frame_reader.h), a started frame
// must complete within frame_timeout_ms, at most kMaxCallsInFlight calls run
// at once, and reading stops while more than kMaxQueuedReplyBytes of answers
// wait for the client to read them. Waiting calls (a queued invocation, a
// GetResult wait) hold no thread; when the client goes away, every call it
// started is cancelled: queued ones leave the queue, waits are withdrawn,
// running invocations have their sandboxes killed.
#pragma once

#include <atomic>
// Boost 1.74 uses std::exchange without including <utility> under C++23.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "api/proto/sprout_api.pb.h"
#include "protocol/frame_reader.h"
#include "supervisor/call_cancellation.h"

namespace sprout::supervisor {

class Server;

// Calls one connection may have running at once (pipelining is welcome; a
// single client holding every invocation slot or control thread is not).
inline constexpr uint32_t kMaxCallsInFlight = 512;

// Answers waiting to be written before the connection stops reading: a
// client that sends calls and never reads the answers stops being read.
inline constexpr size_t kMaxQueuedReplyBytes = 16 * 1024 * 1024;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  Connection(Server& server, Socket socket);

  // Checks the peer's credentials, then reads.
  void start();
  // Tells the client why it is not served, then closes.
  void refuse(api::Status status, const std::string& message);
  // Called from any thread: queues an answer.
  void send(const api::Response& response);
  // Cancels every call of this connection (drain or disconnect).
  void cancel_all();
  void close();

 private:
  void read_more();
  void on_read(size_t received);
  void watch_frame_deadline();
  void handle_frame(const std::string& body);
  void dispatch(const std::shared_ptr<api::Request>& request);
  // Starts a call: counted and cancellable until its answer is sent.
  std::shared_ptr<CallCancellation> begin_call();
  void end_call(const std::shared_ptr<CallCancellation>& call);
  void write_next();
  void after_write();
  void reply_and_close(uint64_t id, api::Status status, const std::string& message);
  void closed();

  Server& server_;
  Socket socket_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  std::array<char, 64 * 1024> read_buffer_;
  FrameReader frames_;

  // On the strand: the frame deadline and the read pause.
  boost::asio::steady_timer frame_timer_;
  uint64_t frames_taken_ = 0;     // complete frames handled so far
  uint64_t frame_watched_ = ~0ull;  // frames_taken_ when the timer was armed
  bool reading_paused_ = false;

  std::mutex write_mutex_;  // guards the four below
  std::deque<std::string> outbox_;
  size_t outbox_bytes_ = 0;
  bool writing_ = false;
  bool close_after_write_ = false;

  std::mutex calls_mutex_;  // guards the two below
  bool closed_ = false;
  std::set<std::shared_ptr<CallCancellation>> calls_;
  std::atomic<uint32_t> in_flight_{0};
};

}  // namespace sprout::supervisor
