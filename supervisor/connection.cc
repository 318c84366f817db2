#include "supervisor/connection.h"

#include <sys/socket.h>

#include <cerrno>

#include "base/log.h"
#include "protocol/frame.h"
#include "supervisor/event_service.h"
#include "supervisor/server.h"

namespace sprout::supervisor {

namespace asio = boost::asio;

Connection::Connection(Server& server, Socket socket)
    : server_(server),
      socket_(std::move(socket)),
      strand_(socket_.get_executor()),
      frames_(server.config().max_frame_bytes()),
      frame_timer_(strand_) {}

void Connection::start() {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 ||
      !server_.peer_allowed(peer.uid, peer.gid)) {
    log_line(LogLevel::kWarning, "refused a client: uid " + std::to_string(peer.uid) + " gid " +
                                     std::to_string(peer.gid) + " is not allowed");
    refuse(api::UNAVAILABLE,
           "permission denied: uid " + std::to_string(peer.uid) + " may not use sproutd");
    return;
  }
  asio::post(strand_, [self = shared_from_this()] { self->read_more(); });
}

void Connection::refuse(api::Status status, const std::string& message) {
  reply_and_close(0, status, message);
}

// When nothing is queued, the frame is written at once from the calling
// thread (one wake-up less on every answer); what does not fit in the
// socket buffer goes to the strand's async writes.
void Connection::send(const api::Response& response) {
  Result<std::string> encoded = encode_frame(response);
  if (!encoded) {
    // Never for an answer sproutd builds; the caller still gets one.
    log_line(LogLevel::kError, "cannot encode an answer: " + encoded.error().message());
    api::Response failed;
    failed.set_id(response.id());
    failed.set_status(api::INTERNAL);
    failed.set_error("the answer could not be encoded: " + encoded.error().message());
    encoded = encode_frame(failed);
  }
  std::string frame = std::move(*encoded);
  std::lock_guard lock(write_mutex_);
  if (!writing_) {
    ssize_t n =
        ::send(socket_.native_handle(), frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(frame.size())) {
      if (close_after_write_) close();
      return;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return;  // the client is gone
    frame.erase(0, n > 0 ? static_cast<size_t>(n) : 0);
  }
  outbox_bytes_ += frame.size();
  outbox_.push_back(std::move(frame));
  if (!writing_) {
    writing_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->write_next(); });
  }
}

void Connection::cancel_all() {
  std::set<std::shared_ptr<CallCancellation>> calls;
  {
    std::lock_guard lock(calls_mutex_);
    closed_ = true;
    calls = calls_;
  }
  // Outside the lock: a cancelled call may answer, which ends the call.
  for (const auto& call : calls) call->cancel();
}

void Connection::close() {
  asio::post(strand_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->frame_timer_.cancel();
    self->socket_.shutdown(Socket::shutdown_both, ignored);
    self->socket_.close(ignored);
    // A connection closed before it read (a refused client) has no read
    // to notice; closed() is idempotent.
    self->closed();
  });
}

// On the strand from here to write_next().
void Connection::read_more() {
  socket_.async_read_some(
      asio::buffer(read_buffer_),
      asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code error,
                                                               size_t received) {
        if (error) return self->closed();
        self->on_read(received);
      }));
}

// Handles each complete frame in order. A frame announced over the limit is
// refused before a byte of its body is kept; the stream cannot be
// resynchronized without reading it, so the connection ends.
void Connection::on_read(size_t received) {
  frames_.feed({read_buffer_.data(), received});
  while (std::optional<std::string> body = frames_.next_frame()) {
    ++frames_taken_;
    handle_frame(*body);
  }
  if (const auto& refused = frames_.refused())
    return reply_and_close(0, api::PAYLOAD_TOO_LARGE, refused->describe());
  watch_frame_deadline();
  {
    std::lock_guard lock(write_mutex_);
    if (outbox_bytes_ > kMaxQueuedReplyBytes) {
      reading_paused_ = true;  // after_write() resumes
      return;
    }
  }
  read_more();
}

// A frame that started must end within frame_timeout_ms: a client that
// sends part of a frame and stalls holds its connection only that long.
void Connection::watch_frame_deadline() {
  if (frames_.partial_bytes() == 0) {
    if (frame_watched_ != ~0ull) frame_timer_.cancel();
    frame_watched_ = ~0ull;
    return;
  }
  if (frame_watched_ == frames_taken_) return;  // this frame is watched already
  frame_watched_ = frames_taken_;
  const uint32_t timeout_ms = server_.config().frame_timeout_ms();
  frame_timer_.expires_after(std::chrono::milliseconds(timeout_ms));
  frame_timer_.async_wait(asio::bind_executor(
      strand_, [self = shared_from_this(), watched = frames_taken_,
                timeout_ms](boost::system::error_code error) {
        if (error || self->frames_taken_ != watched || self->frames_.partial_bytes() == 0) return;
        self->reply_and_close(0, api::INVALID_ARGUMENT,
                              "frame not completed within " + std::to_string(timeout_ms) +
                                  " ms (" + std::to_string(self->frames_.partial_bytes()) +
                                  " bytes of it received); closing the connection");
      }));
}

void Connection::handle_frame(const std::string& body) {
  auto request = std::make_shared<api::Request>();
  if (!request->ParseFromString(body)) {
    // The framing is intact, so the connection goes on.
    api::Response response;
    response.set_status(api::INVALID_ARGUMENT);
    response.set_error("malformed request: not a sprout.api.Request message");
    send(response);
    return;
  }
  dispatch(request);
}

std::shared_ptr<CallCancellation> Connection::begin_call() {
  auto call = CallCancellation::create();
  bool already_closed;
  {
    std::lock_guard lock(calls_mutex_);
    already_closed = closed_;
    calls_.insert(call);
  }
  if (already_closed) call->cancel();
  return call;
}

void Connection::end_call(const std::shared_ptr<CallCancellation>& call) {
  {
    std::lock_guard lock(calls_mutex_);
    calls_.erase(call);
  }
  --in_flight_;
}

// Quick calls are answered here, on the Asio thread; a call that waits does
// so without a thread (FunctionManager::invoke, get_result); deploys and
// deletes, which wait for processes, go to the control threads.
void Connection::dispatch(const std::shared_ptr<api::Request>& request) {
  const auto received = std::chrono::steady_clock::now();
  const uint64_t id = request->id();
  auto refuse_call = [&](api::Status status, const std::string& error) {
    api::Response response;
    response.set_id(id);
    response.set_status(status);
    response.set_error(error);
    send(response);
  };
  if (server_.draining()) return refuse_call(api::UNAVAILABLE, "sproutd is shutting down");
  if (in_flight_.fetch_add(1) >= kMaxCallsInFlight) {
    --in_flight_;
    return refuse_call(api::THROTTLED, "more than " + std::to_string(kMaxCallsInFlight) +
                                           " calls in flight on this connection");
  }
  auto call = begin_call();
  FunctionManager::Reply reply = [self = shared_from_this(), call, id](api::Response response) {
    response.set_id(id);
    self->send(response);
    self->end_call(call);
  };
  FunctionManager& manager = server_.manager();
  switch (request->call_case()) {
    case api::Request::kInvoke:
      return manager.invoke(request->invoke(), call, received, reply);
    case api::Request::kInvokeAsync:
    case api::Request::kGetResult:
    case api::Request::kHistory:
    case api::Request::kDeadLetters:
    case api::Request::kRedrive:
    case api::Request::kAddSchedule:
    case api::Request::kListSchedules:
    case api::Request::kRemoveSchedule:
    case api::Request::kAddTrigger:
    case api::Request::kListTriggers:
    case api::Request::kRemoveTrigger:
      return server_.events().call(request, call, reply);
    case api::Request::kList:
      return reply(manager.list());
    case api::Request::kGet:
      return reply(manager.get(request->get().name()));
    case api::Request::kStats:
      return reply(manager.stats(request->stats().name()));
    case api::Request::kHealth:
      return reply(server_.health());
    case api::Request::kDeploy:
      return server_.control_threads().post([&manager, request, reply] {
        reply(manager.deploy(std::move(*request->mutable_deploy())));
      });
    case api::Request::kDelete:
      return server_.control_threads().post(
          [&manager, request, reply] { reply(manager.remove(request->delete_().name())); });
    default: {
      api::Response response;
      response.set_status(api::INVALID_ARGUMENT);
      response.set_error("unknown call: the request names none of the API's calls");
      return reply(std::move(response));
    }
  }
}

// While `writing_`: one async write at a time, in order.
void Connection::write_next() {
  std::string* front;
  {
    std::lock_guard lock(write_mutex_);
    front = &outbox_.front();
  }
  asio::async_write(socket_, asio::buffer(*front),
                    asio::bind_executor(strand_, [self = shared_from_this()](
                                                     boost::system::error_code error, size_t) {
                      {
                        std::lock_guard lock(self->write_mutex_);
                        self->outbox_bytes_ -= self->outbox_.front().size();
                        self->outbox_.pop_front();
                        if (error) {
                          self->outbox_.clear();
                          self->outbox_bytes_ = 0;
                        }
                      }
                      // A client that cannot be written to while it is not
                      // being read is gone: nothing else would notice.
                      if (error && self->reading_paused_) self->closed();
                      self->after_write();
                    }));
}

void Connection::after_write() {
  std::unique_lock lock(write_mutex_);
  if (!outbox_.empty()) {
    lock.unlock();
    write_next();
    return;
  }
  writing_ = false;
  if (close_after_write_) close();
  if (reading_paused_ && outbox_bytes_ <= kMaxQueuedReplyBytes / 2 && !close_after_write_) {
    reading_paused_ = false;
    lock.unlock();
    read_more();
  }
}

void Connection::reply_and_close(uint64_t id, api::Status status, const std::string& message) {
  api::Response response;
  response.set_id(id);
  response.set_status(status);
  response.set_error(message);
  {
    std::lock_guard lock(write_mutex_);
    close_after_write_ = true;
  }
  send(response);
}

void Connection::closed() {
  cancel_all();
  server_.forget(this);
}

}  // namespace sprout::supervisor
