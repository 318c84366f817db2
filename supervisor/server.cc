#include "supervisor/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "base/log.h"
#include "base/unique_fd.h"
#include "supervisor/connection.h"
#include "supervisor/systemd_notify.h"

namespace sprout::supervisor {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

// How long accepting pauses after the process ran out of descriptors:
// connections wait in the backlog meanwhile.
constexpr std::chrono::milliseconds kAcceptRetry{100};

Server::Server(const DaemonConfig& config, FunctionManager& manager)
    : config_(config),
      manager_(manager),
      acceptor_(io_),
      accept_retry_(io_),
      signals_(io_, SIGTERM, SIGINT),
      drain_timer_(io_),
      control_threads_(1, 16) {}

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
    if (error) return on_accept_error(error);
    if (accept_failing_) {
      accept_failing_ = false;
      log_line(LogLevel::kInfo, "accepting connections again");
    }
    auto connection = std::make_shared<Connection>(*this, std::move(socket));
    bool over_limit;
    {
      std::lock_guard lock(connections_mutex_);
      over_limit = connections_.size() >= config_.max_connections();
      if (!over_limit) connections_.insert(connection);
    }
    if (over_limit) {
      connection->refuse(api::UNAVAILABLE,
                         "sproutd serves at most " + std::to_string(config_.max_connections()) +
                             " connections at once (max_connections); try again later");
    } else {
      connection->start();
    }
    accept();
  });
}

// Any failure but a closed acceptor pauses accepting and retries: running
// out of descriptors (EMFILE, ENFILE) or memory passes once connections end,
// and sproutd must then serve again.
void Server::on_accept_error(const boost::system::error_code& error) {
  if (error == asio::error::operation_aborted || !acceptor_.is_open() || draining_) return;
  if (!accept_failing_) {
    accept_failing_ = true;
    log_line(LogLevel::kWarning, "accept failed: " + error.message() + "; retrying every " +
                                     std::to_string(kAcceptRetry.count()) +
                                     " ms (logged once until it works again)");
  }
  accept_retry_.expires_after(kAcceptRetry);
  accept_retry_.async_wait([this](boost::system::error_code waited) {
    if (!waited) accept();
  });
}

uint32_t Server::connection_count() {
  std::lock_guard lock(connections_mutex_);
  return static_cast<uint32_t>(connections_.size());
}

api::Response Server::health() {
  api::Response response = manager_.health();
  response.mutable_health()->set_connections(connection_count());
  return response;
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
  if (drain_started_) return;
  drain_started_ = true;
  const std::string running =
      std::to_string(manager_.live_invocations()) + " running invocation(s)";
  log_line(LogLevel::kInfo, "draining: no new calls; waiting for " + running);
  // systemd then waits up to TimeoutStopSec (above drain_timeout_ms).
  notify_service_manager("STOPPING=1\nSTATUS=draining: waiting for " + running);
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  ::unlink(config_.socket_path().c_str());
  for (DrainParticipant* participant : drain_participants_) participant->stop_accepting();
  draining_ = true;
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
    for (DrainParticipant* participant : drain_participants_) participant->cancel_calls();
    manager_.kill_async_invocations();
    // Give cancelled invocations a moment to answer, then close everything.
    drain_timer_.expires_after(std::chrono::milliseconds(idle ? 0 : 200));
    drain_timer_.async_wait([this, connections](boost::system::error_code) {
      for (const auto& connection : connections) connection->close();
      for (DrainParticipant* participant : drain_participants_) participant->close_connections();
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
  // After listen() (the socket accepts) and the ready line: Type=notify
  // units ordered after sproutd start only now.
  notify_service_manager("READY=1\nSTATUS=serving on " + config_.socket_path());
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
