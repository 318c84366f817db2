#include "supervisor/server.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <thread>

#include "base/log.h"
#include "base/unique_fd.h"
#include "protocol/frame.h"
#include "protocol/frame_reader.h"

namespace sprout::supervisor {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

// Calls one connection may have running at once (pipelining is welcome; a
// single client holding every worker thread is not).
constexpr uint32_t kMaxInFlightPerConnection = 512;

// What one read of a connection takes at most: a small request in one read,
// a payload of 6 MiB in about a hundred.
constexpr size_t kReadChunkBytes = 64 * 1024;

// One client connection. Reads frames one after another; answers are queued
// and written in order of completion. Shared by the Asio side and the worker
// threads running its calls.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server& server, Socket socket)
      : server_(server),
        socket_(std::move(socket)),
        strand_(socket_.get_executor()),
        frames_(server.config_.max_frame_bytes()) {}

  void start() {
    ucred peer{};
    socklen_t length = sizeof peer;
    if (getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 ||
        !server_.peer_allowed(peer.uid, peer.gid)) {
      log_line(LogLevel::kWarning, "refused a client: uid " + std::to_string(peer.uid) + " gid " +
                                       std::to_string(peer.gid) + " is not allowed");
      reply_and_close(
          0, api::UNAVAILABLE,
          "permission denied: uid " + std::to_string(peer.uid) + " may not use sproutd");
      return;
    }
    read_more();
  }

  // Called from any thread. When nothing is queued, the frame is written at
  // once from the calling worker (one wake-up less on every answer); what
  // does not fit in the socket buffer goes to the strand's async writes.
  void send(const api::Response& response) {
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
    outbox_.push_back(std::move(frame));
    if (!writing_) {
      writing_ = true;
      asio::post(strand_, [self = shared_from_this()] { self->write_next(); });
    }
  }

  // Cancellation of this connection's running invocations when it closes.
  std::shared_ptr<UniqueFd> register_invocation() {
    auto token = std::make_shared<UniqueFd>(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    std::lock_guard lock(mutex_);
    if (closed_) signal(*token);
    tokens_.insert(token);
    return token;
  }
  void unregister_invocation(const std::shared_ptr<UniqueFd>& token) {
    std::lock_guard lock(mutex_);
    tokens_.erase(token);
  }
  void cancel_all() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    for (const auto& token : tokens_) signal(*token);
  }
  void close() {
    asio::post(strand_, [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->socket_.shutdown(Socket::shutdown_both, ignored);
      self->socket_.close(ignored);
    });
  }

 private:
  static void signal(const UniqueFd& token) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(token.get(), &one, sizeof one);
  }

  // Reads what the client sends, whatever the pieces, and handles each
  // complete frame in order. A frame announced over the limit is refused
  // before a byte of its body is kept; the stream cannot be resynchronized
  // without reading it, so the connection ends.
  void read_more() {
    socket_.async_read_some(
        asio::buffer(read_buffer_),
        asio::bind_executor(
            strand_, [self = shared_from_this()](boost::system::error_code error, size_t received) {
              if (error) return self->closed();
              self->frames_.feed({self->read_buffer_.data(), received});
              while (std::optional<std::string> body = self->frames_.next_frame())
                self->handle_frame(*body);
              if (const auto& refused = self->frames_.refused())
                return self->reply_and_close(0, api::PAYLOAD_TOO_LARGE, refused->describe());
              self->read_more();
            }));
  }

  void handle_frame(const std::string& body) {
    auto request = std::make_shared<api::Request>();
    if (!request->ParseFromString(body)) {
      // The framing is intact, so the connection goes on.
      api::Response response;
      response.set_status(api::INVALID_ARGUMENT);
      response.set_error("malformed request: not a sprout.api.Request message");
      send(response);
      return;
    }
    dispatch(std::move(request));
  }

  void dispatch(std::shared_ptr<api::Request> request);

  // On the strand, while `writing_`: one async write at a time, in order.
  void write_next() {
    std::string* front;
    {
      std::lock_guard lock(write_mutex_);
      front = &outbox_.front();
    }
    asio::async_write(socket_, asio::buffer(*front),
                      asio::bind_executor(strand_, [self = shared_from_this()](
                                                       boost::system::error_code error, size_t) {
                        std::unique_lock lock(self->write_mutex_);
                        self->outbox_.pop_front();
                        if (error) self->outbox_.clear();
                        if (!self->outbox_.empty()) {
                          lock.unlock();
                          self->write_next();
                          return;
                        }
                        self->writing_ = false;
                        if (self->close_after_write_) self->close();
                      }));
  }

  void reply_and_close(uint64_t id, api::Status status, const std::string& message) {
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

  void closed() {
    cancel_all();
    server_.forget(this);
  }

  Server& server_;
  Socket socket_;
  asio::strand<asio::any_io_executor> strand_;
  std::array<char, kReadChunkBytes> read_buffer_;
  FrameReader frames_;
  std::mutex write_mutex_;  // guards outbox_, writing_, close_after_write_
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool close_after_write_ = false;
  std::mutex mutex_;
  bool closed_ = false;
  std::set<std::shared_ptr<UniqueFd>> tokens_;
  std::atomic<uint32_t> in_flight_{0};
};

void Connection::dispatch(std::shared_ptr<api::Request> request) {
  const auto received = std::chrono::steady_clock::now();
  auto refuse = [&](api::Status status, const std::string& error) {
    api::Response response;
    response.set_id(request->id());
    response.set_status(status);
    response.set_error(error);
    send(response);
  };
  if (server_.draining_) return refuse(api::UNAVAILABLE, "sproutd is shutting down");
  // Each call holds a worker thread; one connection may not hold them all.
  if (in_flight_.fetch_add(1) >= kMaxInFlightPerConnection) {
    --in_flight_;
    return refuse(api::THROTTLED, "more than " + std::to_string(kMaxInFlightPerConnection) +
                                      " calls in flight on this connection");
  }
  auto self = shared_from_this();
  server_.workers_.post([self, request, received] {
    FunctionManager& manager = self->server_.manager_;
    api::Response response;
    switch (request->call_case()) {
      case api::Request::kDeploy:
        response = manager.deploy(std::move(*request->mutable_deploy()));
        break;
      case api::Request::kInvoke: {
        auto token = self->register_invocation();
        response = manager.invoke(request->invoke(), token->get(), received);
        self->unregister_invocation(token);
        break;
      }
      case api::Request::kInvokeAsync:
        response = manager.submit(request->invoke_async(), self->server_.workers_);
        break;
      case api::Request::kGetResult:
        response = manager.get_result(request->get_result());
        break;
      case api::Request::kList:
        response = manager.list();
        break;
      case api::Request::kGet:
        response = manager.get(request->get().name());
        break;
      case api::Request::kDelete:
        response = manager.remove(request->delete_().name());
        break;
      case api::Request::kStats:
        response = manager.stats(request->stats().name());
        break;
      case api::Request::kHealth:
        response = manager.health();
        break;
      default:
        response.set_status(api::INVALID_ARGUMENT);
        response.set_error("unknown call: the request names none of the API's calls");
    }
    response.set_id(request->id());
    self->send(response);
    --self->in_flight_;
  });
}

Server::Server(const DaemonConfig& config, FunctionManager& manager)
    : config_(config),
      manager_(manager),
      acceptor_(io_),
      signals_(io_, SIGTERM, SIGINT),
      drain_timer_(io_),
      workers_(4, config.max_live_sandboxes() + config.max_queue() + 16) {}

Server::~Server() = default;

bool Server::peer_allowed(uid_t uid, gid_t gid) const {
  if (uid == 0 || uid == geteuid()) return true;
  for (uint32_t allowed : config_.allowed_uids())
    if (allowed == uid) return true;
  for (uint32_t allowed : config_.allowed_gids())
    if (allowed == gid) return true;
  return false;
}

Result<void> Server::listen() {
  const std::string& path = config_.socket_path();
  std::error_code fs_error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), fs_error);
  // A socket file from a crashed sproutd is removed; a live sproutd is not.
  if (std::filesystem::exists(path)) {
    UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    if (connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      return plain_error("listen", "another sproutd is already serving at " + path);
    }
    log_line(LogLevel::kInfo, "removing stale socket " + path);
    ::unlink(path.c_str());
  }
  boost::system::error_code error;
  asio::local::stream_protocol::endpoint endpoint(path);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) return plain_error("listen on " + path, error.message());
  ::chmod(path.c_str(), 0660);
  if (config_.socket_gid() != 0 && ::chown(path.c_str(), geteuid(), config_.socket_gid()) != 0) {
    return os_error("chown", path);
  }
  return {};
}

void Server::accept() {
  acceptor_.async_accept([this](boost::system::error_code error, Socket socket) {
    if (error) return;  // closed while draining
    auto connection = std::make_shared<Connection>(*this, std::move(socket));
    {
      std::lock_guard lock(connections_mutex_);
      connections_.insert(connection);
    }
    connection->start();
    accept();
  });
}

void Server::forget(Connection* connection) {
  std::lock_guard lock(connections_mutex_);
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() == connection) {
      connections_.erase(it);
      return;
    }
  }
}

void Server::begin_drain() {
  if (draining_.exchange(true)) return;
  log_line(LogLevel::kInfo, "draining: no new calls; waiting for " +
                                std::to_string(manager_.live_invocations()) +
                                " running invocation(s)");
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  ::unlink(config_.socket_path().c_str());
  manager_.start_draining();
  check_drained(std::chrono::steady_clock::now() +
                std::chrono::milliseconds(config_.drain_timeout_ms()));
}

void Server::check_drained(std::chrono::steady_clock::time_point deadline) {
  const bool idle = manager_.live_invocations() == 0;
  if (idle || std::chrono::steady_clock::now() >= deadline) {
    std::vector<std::shared_ptr<Connection>> connections;
    {
      std::lock_guard lock(connections_mutex_);
      connections.assign(connections_.begin(), connections_.end());
    }
    if (!idle) log_line(LogLevel::kWarning, "drain timeout: killing the invocations still running");
    for (const auto& connection : connections) connection->cancel_all();
    // Give cancelled invocations a moment to answer, then close everything.
    drain_timer_.expires_after(std::chrono::milliseconds(idle ? 0 : 200));
    drain_timer_.async_wait([this, connections](boost::system::error_code) {
      for (const auto& connection : connections) connection->close();
      io_.stop();
    });
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(20));
  drain_timer_.async_wait([this, deadline](boost::system::error_code) { check_drained(deadline); });
}

void Server::run() {
  signals_.async_wait([this](boost::system::error_code error, int) {
    if (!error) begin_drain();
  });
  accept();
  std::printf("sproutd: ready on %s\n", config_.socket_path().c_str());
  (void)std::fflush(stdout);  // the ready line; nothing to do if stdout is gone
  log_line(LogLevel::kInfo, "serving on " + config_.socket_path());
  std::vector<std::thread> threads;
  for (uint32_t i = 1; i < config_.io_threads(); ++i) threads.emplace_back([this] { io_.run(); });
  io_.run();
  for (auto& thread : threads) thread.join();
  {
    std::lock_guard lock(connections_mutex_);
    connections_.clear();
  }
  log_line(LogLevel::kInfo, "stopped");
}

}  // namespace sprout::supervisor
