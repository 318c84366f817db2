// sproutd's API server: Boost.Asio on a Unix stream socket, length-prefixed
// protobuf frames (protocol/frame.h; messages of api/proto/sprout_api.proto),
// many requests in flight per connection, answered out of order
// (supervisor/connection.h says what one client may hold).
//
// Accepting survives descriptor exhaustion (EMFILE/ENFILE: logged once,
// retried every 100 ms until it works again) and at most max_connections
// clients are served at once; one more is told UNAVAILABLE and closed.
// SIGTERM or SIGINT drains: stop accepting, refuse new calls (UNAVAILABLE),
// let running invocations finish (up to drain_timeout_ms), kill the rest,
// remove the socket. Other listeners on the same io_context (the HTTP front
// door, http/) take part in the drain as DrainParticipants.
#pragma once

#include <atomic>
// Boost 1.74 uses std::exchange without including <utility> under C++23.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "base/errors.h"
#include "supervisor/function_manager.h"
#include "supervisor/proto/daemon_config.pb.h"
#include "supervisor/thread_pool.h"

namespace sprout::supervisor {

class Connection;
class EventService;

// A listener beside the socket, served by the Server's io_context, that
// drains with it. Called on an Asio thread.
class DrainParticipant {
 public:
  virtual ~DrainParticipant() = default;
  // The drain began: accept nothing more; calls still arriving on open
  // connections are refused by the FunctionManager (UNAVAILABLE).
  virtual void stop_accepting() = 0;
  // The drain ended (idle, or its deadline passed): cancel every call
  // still running (their sandboxes are killed).
  virtual void cancel_calls() = 0;
  // Then, a moment later: close every connection.
  virtual void close_connections() = 0;
};

class Server {
 public:
  Server(const DaemonConfig& config, FunctionManager& manager);
  ~Server();

  // Creates the socket (parent directory too), mode 0660.
  Result<void> listen();
  // Serves until drained after SIGTERM/SIGINT.
  void run();

  // For other listeners on the same io_context (before run()).
  boost::asio::io_context& io_context() { return io_; }
  void add_drain_participant(DrainParticipant* participant) {
    drain_participants_.push_back(participant);
  }

  // Clients connected now (for Health and /metrics). Thread-safe.
  uint32_t connection_count();
  // For connections.
  const DaemonConfig& config() const { return config_; }
  FunctionManager& manager() { return manager_; }
  // The event calls' handler (InvokeAsync, GetResult, history, dead
  // letters, schedules, triggers); set before listen().
  void set_event_service(EventService* events) { events_ = events; }
  EventService& events() { return *events_; }
  ThreadPool& control_threads() { return control_threads_; }
  bool draining() const { return draining_; }
  bool peer_allowed(uid_t uid, gid_t gid) const;
  api::Response health();
  void forget(Connection* connection);

 private:
  void accept();
  void on_accept_error(const boost::system::error_code& error);
  void begin_drain();
  void check_drained(std::chrono::steady_clock::time_point deadline);

  const DaemonConfig& config_;
  FunctionManager& manager_;
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  bool accept_failing_ = false;  // logged once per episode
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_timer_;
  // Deploys and deletes: they wait for processes. Invocations run on the
  // manager's own threads; quick calls on the Asio threads.
  ThreadPool control_threads_;
  EventService* events_ = nullptr;
  bool drain_started_ = false;  // begin_drain() runs once (on the Asio thread)
  // Set only once every acceptor is closed: whoever sees draining() (the
  // HTTP /healthz, a connection) can rely on no new connection being taken.
  std::atomic<bool> draining_{false};
  std::mutex connections_mutex_;
  std::set<std::shared_ptr<Connection>> connections_;
  std::vector<DrainParticipant*> drain_participants_;  // set before run()
};

}  // namespace sprout::supervisor
