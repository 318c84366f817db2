// sproutd's API server: Boost.Asio on a Unix stream socket, length-prefixed
// protobuf frames (protocol/frame.h; messages of api/proto/sprout_api.proto),
// many requests in flight per connection, answered out of order.
//
// Asio threads only read, parse, check and write; every call runs on a
// worker thread, because invocations block until their sandbox answers. A
// client that disconnects mid-invocation has its sandboxes killed. SIGTERM
// or SIGINT drains: stop accepting, refuse new calls (UNAVAILABLE), let
// running invocations finish (up to drain_timeout_ms), kill the rest, remove
// the socket.
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

#include "base/errors.h"
#include "supervisor/function_manager.h"
#include "supervisor/proto/daemon_config.pb.h"
#include "supervisor/thread_pool.h"

namespace sprout::supervisor {

class Connection;

class Server {
 public:
  Server(const DaemonConfig& config, FunctionManager& manager);
  ~Server();

  // Creates the socket (parent directory too), mode 0660.
  Result<void> listen();
  // Serves until drained after SIGTERM/SIGINT.
  void run();

 private:
  friend class Connection;
  void accept();
  void begin_drain();
  void check_drained(std::chrono::steady_clock::time_point deadline);
  bool peer_allowed(uid_t uid, gid_t gid) const;
  void forget(Connection* connection);

  const DaemonConfig& config_;
  FunctionManager& manager_;
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_timer_;
  ThreadPool workers_;
  std::atomic<bool> draining_{false};
  std::mutex connections_mutex_;
  std::set<std::shared_ptr<Connection>> connections_;
};

}  // namespace sprout::supervisor
