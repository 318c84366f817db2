#include "http/http_session.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "base/log.h"
#include "http/front_door.h"
#include "http/http_request.h"

namespace sprout::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

// After a 413, the client may still be sending its body: it is read and
// dropped (for at most this long, and this much) so that the client sees
// the answer instead of a reset connection.
constexpr std::chrono::seconds kDiscardFor{5};
constexpr size_t kDiscardAtMost = 64 * 1024 * 1024;

bool is_loopback(const asio::ip::address& address) {
  if (address.is_loopback()) return true;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  return false;
}

}  // namespace

HttpSession::HttpSession(HttpFrontDoor& door, asio::ip::tcp::socket socket)
    : door_(door), stream_(std::move(socket)) {
  boost::system::error_code error;
  const auto peer = stream_.socket().remote_endpoint(error);
  if (!error) {
    asio::ip::address address = peer.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    peer_address_ = address.to_string();
    peer_loopback_ = is_loopback(address);
  }
  // Answers are small and latency matters: no Nagle delay.
  stream_.socket().set_option(asio::ip::tcp::no_delay(true), error);
}

void HttpSession::start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

// On the strand from here on, but for cancel_call() and close().
void HttpSession::read_request() {
  if (closed_) return;
  const auto& config = door_.config();
  parser_.emplace();
  parser_->header_limit(config.http_max_header_bytes());
  parser_->body_limit(config.http_max_body_bytes());
  // The whole request (header and body) must arrive within the deadline:
  // a client that stalls holds its connection only that long.
  stream_.expires_after(std::chrono::milliseconds(config.http_request_timeout_ms()));
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = shared_from_this()](boost::system::error_code error, size_t) {
                             self->on_header(error);
                           });
}

void HttpSession::on_header(boost::system::error_code error) {
  if (error) return on_read_error(error);
  const auto& header = parser_->get();
  // RFC 9112 6.3: a transfer coding other than exactly "chunked" cannot be
  // framed here; a proxy in front could read the body's end elsewhere.
  if (header.find(bhttp::field::transfer_encoding) != header.end() &&
      !beast::iequals(header[bhttp::field::transfer_encoding], "chunked")) {
    request_version_ = header.version();
    head_request_ = false;
    return write(aws_error(400, "InvalidRequestContentException",
                           "Transfer-Encoding other than chunked is not supported"),
                 false, false);
  }
  // A peer that must sign and sent no signature is refused before its body
  // is read: an unauthenticated client holds neither memory nor time.
  if (auto refused = door_.router().refuse_unsigned(
          peer_loopback_, header.find(bhttp::field::authorization) != header.end())) {
    request_version_ = header.version();
    head_request_ = false;
    return write(std::move(*refused), false, false);
  }
  // curl and others wait for "100 Continue" before a large body.
  if (beast::iequals(header[bhttp::field::expect], "100-continue") && header.version() >= 11) {
    continue_ = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                      header.version());
    return bhttp::async_write(stream_, *continue_,
                              [self = shared_from_this()](boost::system::error_code written,
                                                          size_t) {
                                if (written) return self->shut_down();
                                self->read_body();
                              });
  }
  read_body();
}

void HttpSession::read_body() {
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared_from_this()](boost::system::error_code error, size_t) {
                      self->on_body(error);
                    });
}

void HttpSession::on_body(boost::system::error_code error) {
  if (error) return on_read_error(error);
  stream_.expires_never();  // the invocation has its own deadline
  const auto received = std::chrono::steady_clock::now();
  bhttp::request<bhttp::string_body> message = parser_->release();
  parser_.reset();
  request_version_ = message.version();
  head_request_ = message.method() == bhttp::verb::head;
  keep_alive_ = message.keep_alive();

  auto request = std::make_shared<HttpRequest>();
  request->method.assign(message.method_string().data(), message.method_string().size());
  const std::string_view target(message.target().data(), message.target().size());
  const size_t question = target.find('?');
  request->raw_path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request->raw_query = target.substr(question + 1);
  for (const auto& field : message)
    request->headers.emplace_back(std::string(field.name_string().data(), field.name_string().size()),
                                  std::string(field.value().data(), field.value().size()));
  request->body = std::move(message.body());
  request->peer_address = peer_address_;
  request->peer_loopback = peer_loopback_;
  request->http_version = static_cast<int>(message.version());

  auto call = supervisor::CallCancellation::create();
  {
    std::lock_guard lock(call_mutex_);
    call_ = call;
  }
  in_call_ = true;
  watch_for_disconnect();
  // The answer comes from any thread; it reaches the strand only while the
  // front door, and so the io_context, exists.
  auto gate = door_.reply_gate();
  door_.router().route(std::move(request), call, received,
                       [self = shared_from_this(), gate](HttpAnswer reply) {
                         std::lock_guard lock(gate->mutex);
                         if (!gate->open) return;
                         asio::post(self->stream_.get_executor(),
                                    [self, reply = std::move(reply)]() mutable {
                                      self->answer(std::move(reply));
                                    });
                       });
}

// While the router works, the socket is watched: readable with nothing to
// read is the client's close, which cancels the call. Bytes of a
// pipelined next request end the watch (they wait in the socket).
void HttpSession::watch_for_disconnect() {
  stream_.socket().async_wait(
      asio::socket_base::wait_read,
      asio::bind_executor(stream_.get_executor(),
                          [self = shared_from_this()](boost::system::error_code error) {
                            if (error || !self->in_call_ || self->closed_) return;
                            char byte;
                            const ssize_t n =
                                ::recv(self->stream_.socket().native_handle(), &byte, 1,
                                       MSG_PEEK | MSG_DONTWAIT);
                            if (n > 0) return;  // a pipelined request: read after the answer
                            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                              return self->watch_for_disconnect();
                            self->peer_gone_ = true;
                            self->cancel_call();
                          }));
}

void HttpSession::cancel_call() {
  std::shared_ptr<supervisor::CallCancellation> call;
  {
    std::lock_guard lock(call_mutex_);
    call = call_;
  }
  if (call) call->cancel();
}

void HttpSession::answer(HttpAnswer reply) {
  if (closed_) return;
  in_call_ = false;
  {
    std::lock_guard lock(call_mutex_);
    call_.reset();
  }
  // Ends the disconnect watch.
  boost::system::error_code ignored;
  stream_.socket().cancel(ignored);
  if (peer_gone_) return shut_down();
  write(std::move(reply), keep_alive_, false);
}

void HttpSession::write(HttpAnswer reply, bool keep_alive, bool discard_after) {
  response_ = std::make_shared<Response>(static_cast<bhttp::status>(reply.status),
                                         request_version_);
  // An empty content type means no body (204, a CORS preflight).
  if (!reply.content_type.empty()) response_->set(bhttp::field::content_type, reply.content_type);
  for (auto& [name, value] : reply.headers) response_->insert(name, value);
  response_->set(bhttp::field::server, "sproutd");
  response_->body() = std::move(reply.body);
  response_->keep_alive(keep_alive);
  try {
    response_->prepare_payload();
  } catch (const std::exception& refused) {
    // Beast refuses a body where the status allows none. Whatever built
    // the answer, it must never end sproutd: answer 500 instead.
    response_->result(bhttp::status::internal_server_error);
    response_->body() = "sproutd could not frame its answer\n";
    response_->set(bhttp::field::content_type, "text/plain");
    response_->prepare_payload();
  }
  // A HEAD answer carries the length of what GET would send, not the bytes.
  if (head_request_) response_->body().clear();
  stream_.expires_after(std::chrono::milliseconds(door_.config().http_request_timeout_ms()));
  bhttp::async_write(stream_, *response_,
                     [self = shared_from_this(), keep_alive, discard_after](
                         boost::system::error_code error, size_t) {
                       self->response_.reset();
                       if (error) return self->shut_down();
                       if (discard_after) return self->discard_input();
                       if (!keep_alive) return self->shut_down();
                       self->read_request();
                     });
}

void HttpSession::on_read_error(boost::system::error_code error) {
  request_version_ = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
  if (error == bhttp::error::header_limit) {
    return write(aws_error(431, "RequestHeaderFieldsTooLargeException",
                           "the request's header is over " +
                               std::to_string(door_.config().http_max_header_bytes()) + " bytes"),
                 false, false);
  }
  if (error == bhttp::error::body_limit) {
    return write(aws_error(413, "RequestTooLargeException",
                           "the request's body is over " +
                               std::to_string(door_.config().http_max_body_bytes()) + " bytes"),
                 false, true);
  }
  const bool gone = error == bhttp::error::end_of_stream || error == asio::error::eof ||
                    error == asio::error::connection_reset ||
                    error == asio::error::operation_aborted || error == beast::error::timeout ||
                    error == bhttp::error::partial_message;
  // A stalled or vanished client is closed without a word; a malformed
  // request is told why.
  if (gone || closed_) return shut_down();
  write(aws_error(400, "InvalidRequestException", "malformed HTTP request: " + error.message()),
        false, false);
}

// Half-closes, then reads and drops what the client still sends (within
// bounds) so that it can read the answer before the connection closes.
void HttpSession::discard_input() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(kDiscardFor);
  discarded_ = 0;
  discard_more();
}

void HttpSession::discard_more() {
  buffer_.consume(buffer_.size());
  stream_.async_read_some(buffer_.prepare(64 * 1024), [self = shared_from_this()](
                                                          boost::system::error_code error,
                                                          size_t received) {
    self->discarded_ += received;
    if (error || self->discarded_ > kDiscardAtMost) return self->shut_down();
    self->discard_more();
  });
}

void HttpSession::close() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->shut_down(); });
}

void HttpSession::shut_down() {
  if (closed_) return;
  closed_ = true;
  cancel_call();
  boost::system::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
  door_.forget(this);
}

}  // namespace sprout::http
