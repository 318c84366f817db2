#include "http/front_door.h"

#include "base/log.h"
#include "http/http_session.h"
#include "supervisor/config.h"

namespace sprout::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Tcp = asio::ip::tcp;

namespace {

// How long accepting pauses after the process ran out of descriptors.
constexpr std::chrono::milliseconds kAcceptRetry{100};

}  // namespace

std::string describe_endpoint(const Tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

HttpFrontDoor::HttpFrontDoor(supervisor::Server& server, const supervisor::DaemonConfig& config,
                             supervisor::FunctionManager& manager)
    : server_(server),
      config_(config),
      router_(config, manager, server.events(), server.control_threads(),
              [&server] { return server.draining(); }),
      acceptor_(server.io_context()),
      accept_retry_(server.io_context()) {}

HttpFrontDoor::~HttpFrontDoor() {
  std::lock_guard lock(gate_->mutex);
  gate_->open = false;
}

Result<Tcp::endpoint> HttpFrontDoor::listen() {
  auto address = supervisor::parse_http_listen(config_.http_listen());
  if (!address) return std::unexpected(address.error());
  boost::system::error_code error;
  const Tcp::endpoint endpoint(asio::ip::make_address(address->address, error), address->port);
  if (!error) acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) return plain_error("http listen on " + config_.http_listen(), error.message());
  auto bound = acceptor_.local_endpoint(error);
  if (error) return plain_error("http listen on " + config_.http_listen(), error.message());
  if (!bound.address().is_loopback() && config_.http_credentials().empty()) {
    log_line(LogLevel::kWarning,
             "http: listening on " + describe_endpoint(bound) +
                 " without http_credentials: only loopback clients can be served");
  }
  return bound;
}

void HttpFrontDoor::start() { accept(); }

void HttpFrontDoor::accept() {
  // Each connection gets a strand of its own.
  acceptor_.async_accept(
      asio::make_strand(server_.io_context()),
      [this](boost::system::error_code error, Tcp::socket socket) {
        if (error) return on_accept_error(error);
        if (accept_failing_) {
          accept_failing_ = false;
          log_line(LogLevel::kInfo, "http: accepting connections again");
        }
        bool over_limit;
        std::shared_ptr<HttpSession> session;
        {
          std::lock_guard lock(sessions_mutex_);
          over_limit = sessions_.size() >= config_.http_max_connections();
          if (!over_limit) {
            session = std::make_shared<HttpSession>(*this, std::move(socket));
            sessions_.insert(session);
          }
        }
        if (over_limit) {
          // A fresh socket's send buffer takes this small answer at once.
          HttpAnswer refusal = aws_error(
              503, "ServiceException",
              "sproutd serves at most " + std::to_string(config_.http_max_connections()) +
                  " HTTP connections at once (http_max_connections); try again later");
          bhttp::response<bhttp::string_body> response(bhttp::status::service_unavailable, 11);
          response.set(bhttp::field::content_type, refusal.content_type);
          for (auto& [name, value] : refusal.headers) response.insert(name, value);
          response.body() = refusal.body;
          response.keep_alive(false);
          response.prepare_payload();
          boost::system::error_code ignored;
          bhttp::write(socket, response, ignored);
          socket.shutdown(Tcp::socket::shutdown_both, ignored);
          socket.close(ignored);
        } else {
          session->start();
        }
        accept();
      });
}

// Any failure but a closed acceptor pauses accepting and retries (EMFILE,
// ENFILE, ENOMEM pass once connections end).
void HttpFrontDoor::on_accept_error(const boost::system::error_code& error) {
  if (error == asio::error::operation_aborted || !acceptor_.is_open() || stopped_) return;
  if (!accept_failing_) {
    accept_failing_ = true;
    log_line(LogLevel::kWarning, "http: accept failed: " + error.message() + "; retrying every " +
                                     std::to_string(kAcceptRetry.count()) +
                                     " ms (logged once until it works again)");
  }
  accept_retry_.expires_after(kAcceptRetry);
  accept_retry_.async_wait([this](boost::system::error_code waited) {
    if (!waited && !stopped_) accept();
  });
}

void HttpFrontDoor::forget(HttpSession* session) {
  std::lock_guard lock(sessions_mutex_);
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->get() == session) {
      sessions_.erase(it);
      return;
    }
  }
}

void HttpFrontDoor::stop_accepting() {
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
}

void HttpFrontDoor::cancel_calls() {
  std::vector<std::shared_ptr<HttpSession>> sessions;
  {
    std::lock_guard lock(sessions_mutex_);
    sessions.assign(sessions_.begin(), sessions_.end());
  }
  for (const auto& session : sessions) session->cancel_call();
}

void HttpFrontDoor::close_connections() {
  std::vector<std::shared_ptr<HttpSession>> sessions;
  {
    std::lock_guard lock(sessions_mutex_);
    sessions.assign(sessions_.begin(), sessions_.end());
  }
  for (const auto& session : sessions) session->close();
}

uint32_t HttpFrontDoor::connection_count() {
  std::lock_guard lock(sessions_mutex_);
  return static_cast<uint32_t>(sessions_.size());
}

}  // namespace sprout::http
