// One HTTP/1.1 connection of the front door (Boost.Beast): reads a request
// within the deadline and size limits, has the router answer it, writes
// the answer, and reads the next one while the client keeps the
// connection alive. Everything of a session runs on its strand; answers
// arrive from any thread through the front door's ReplyGate.
//
// While a call runs, the session watches its socket: a client that closes
// the connection cancels the call (a running invocation's sandbox is
// killed; a queued one leaves the queue).
#pragma once

// Boost 1.74 uses std::exchange without including <utility> under C++23.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on
#include <memory>
#include <mutex>
#include <optional>

#include "http/management/lambda_management.h"
#include "supervisor/call_cancellation.h"

namespace sprout::http {

class HttpFrontDoor;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(HttpFrontDoor& door, boost::asio::ip::tcp::socket socket);

  void start();
  // From any thread.
  void cancel_call();
  void close();

 private:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void read_request();
  void on_header(boost::system::error_code error);
  void read_body();
  void on_body(boost::system::error_code error);
  void on_read_error(boost::system::error_code error);
  void watch_for_disconnect();
  void answer(HttpAnswer reply);
  void write(HttpAnswer reply, bool keep_alive, bool discard_after);
  void discard_input();
  void discard_more();
  void shut_down();

  HttpFrontDoor& door_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::shared_ptr<Response> response_;
  std::shared_ptr<boost::beast::http::response<boost::beast::http::empty_body>> continue_;
  std::string peer_address_;
  bool peer_loopback_ = false;
  unsigned request_version_ = 11;
  bool head_request_ = false;  // the request being answered is a HEAD
  bool keep_alive_ = false;
  bool in_call_ = false;   // a request is with the router
  bool peer_gone_ = false;
  bool closed_ = false;
  size_t discarded_ = 0;  // bytes dropped after a 413

  std::mutex call_mutex_;  // guards call_ (cancel_call() comes from other threads)
  std::shared_ptr<supervisor::CallCancellation> call_;
};

}  // namespace sprout::http
