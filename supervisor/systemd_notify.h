// sd_notify written by hand (no libsystemd): tells the service manager that
// sproutd is ready (READY=1), what it is doing (STATUS=...), that it stops
// (STOPPING=1), and that its event loop is alive (WATCHDOG=1). Protocol: one
// datagram of newline-separated KEY=VALUE lines to the AF_UNIX socket named
// in $NOTIFY_SOCKET, a path ("/run/systemd/notify") or an abstract name
// ("@name"). Without $NOTIFY_SOCKET every call is a no-op (not under
// systemd, or Type= not notify). See docs/systemd.md.
//
// Thread-safety: a ServiceNotifier is an immutable value; notify() opens its
// own socket per call, so any thread may call it. install_process_notifier()
// must run in main() before any thread starts (it edits the environment).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/errors.h"

namespace boost::asio {
class io_context;
}

namespace sprout::supervisor {

// systemd reads a notification into a buffer of PIPE_BUF (4096) bytes and
// drops a longer datagram whole ("overly long notification datagram"): a
// longer message is refused here, where the caller can see it.
inline constexpr std::size_t kMaxNotificationBytes = 4095;

class ServiceNotifier {
 public:
  // Disabled: notify() does nothing.
  ServiceNotifier() = default;
  // `socket`: as $NOTIFY_SOCKET spells it ("" = disabled). `watchdog`: the
  // interval systemd expects pings within (from $WATCHDOG_USEC), if any.
  ServiceNotifier(std::string socket, std::optional<std::chrono::microseconds> watchdog);

  // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then removes
  // them from the environment so that no child (agent, zygote, function)
  // inherits a channel to the service manager: with NotifyAccess=main
  // systemd would ignore them anyway, but a function has no business
  // knowing it. The watchdog applies only when $WATCHDOG_PID is unset or
  // names this process. Not thread-safe (setenv/unsetenv).
  static ServiceNotifier from_environment();

  bool enabled() const { return !socket_.empty(); }
  const std::string& socket() const { return socket_; }
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

  // Sends `message` ("READY=1\nSTATUS=serving") as one datagram. Ok without
  // doing anything when disabled. Errors: a socket name that is neither
  // absolute nor abstract, or too long for sockaddr_un; a message over
  // kMaxNotificationBytes; the send itself (ECONNREFUSED when nobody
  // listens, EAGAIN when the manager's queue is full: never blocks).
  Result<void> notify(std::string_view message) const;

 private:
  std::string socket_;
  std::optional<std::chrono::microseconds> watchdog_;
};

// The process's notifier, for code far from main() (the server's drain).
// install_process_notifier() once in main() before threads start; until
// then process_notifier() is a disabled one.
void install_process_notifier(ServiceNotifier notifier);
const ServiceNotifier& process_notifier();

// notify() on the process notifier; a failure is logged (once per kind of
// message text before its first '=') and otherwise ignored: sproutd serves
// whether or not systemd hears it, and systemd's own timeouts handle a
// manager that never heard READY=1.
void notify_service_manager(std::string_view message);

// With a watchdog interval: sends WATCHDOG=1 every half interval from a
// timer on `io` (so a ping proves the event loop still turns), until `io`
// stops. Without one: does nothing.
void start_watchdog_pings(boost::asio::io_context& io);

}  // namespace sprout::supervisor
