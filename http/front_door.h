// sproutd's HTTP front door: a TCP listener (Boost.Beast) on the Server's
// io_context, serving the AWS Lambda Invoke API, function URLs, /metrics and
// /healthz (docs/http.md). One HttpSession per connection; HttpRouter
// decides each request.
//
// Bounded: at most http_max_connections clients (one more is answered 503
// and closed), a request's header (http_max_header_bytes: 431) and body
// (http_max_body_bytes: 413) sizes, and a deadline for each request to
// arrive and each answer to be taken (http_request_timeout_ms). A client
// that goes away mid-invocation has its sandbox killed. Accepting survives
// descriptor exhaustion (retried every 100 ms). It drains with the Server
// (stop accepting, cancel calls, close connections).
#pragma once

// Boost 1.74 uses std::exchange without including <utility> under C++23.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
#include <memory>
#include <mutex>
#include <set>

#include "base/errors.h"
#include "http/router.h"
#include "supervisor/server.h"

namespace sprout::http {

class HttpSession;

// Answers that arrive from worker threads go to a session's strand only
// while the front door (and so the io_context) exists.
struct ReplyGate {
  std::mutex mutex;
  bool open = true;
};

class HttpFrontDoor : public supervisor::DrainParticipant {
 public:
  HttpFrontDoor(supervisor::Server& server, const supervisor::DaemonConfig& config,
                supervisor::FunctionManager& manager);
  ~HttpFrontDoor() override;

  // Binds http_listen; returns the address actually bound (the port
  // chosen when 0 was asked). Accepting starts with start().
  Result<boost::asio::ip::tcp::endpoint> listen();
  void start();

  // DrainParticipant (on an Asio thread).
  void stop_accepting() override;
  void cancel_calls() override;
  void close_connections() override;
  // Clients connected now (for /metrics). Thread-safe.
  uint32_t connection_count();

  // For sessions.
  const supervisor::DaemonConfig& config() const { return config_; }
  HttpRouter& router() { return router_; }
  const std::shared_ptr<ReplyGate>& reply_gate() const { return gate_; }
  void forget(HttpSession* session);

 private:
  void accept();
  void on_accept_error(const boost::system::error_code& error);

  supervisor::Server& server_;
  const supervisor::DaemonConfig& config_;
  HttpRouter router_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  bool accept_failing_ = false;  // logged once per episode
  bool stopped_ = false;
  const std::shared_ptr<ReplyGate> gate_ = std::make_shared<ReplyGate>();
  std::mutex sessions_mutex_;
  std::set<std::shared_ptr<HttpSession>> sessions_;
};

// "127.0.0.1:9000", "[::1]:9000".
std::string describe_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace sprout::http
