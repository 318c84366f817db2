#include "supervisor/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
// Boost 1.74 uses std::exchange without including <utility> under C++23.
// clang-format off
#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
// clang-format on

#include "base/log.h"
#include "base/unique_fd.h"

namespace sprout::supervisor {
namespace {

std::optional<uint64_t> parse_decimal(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  uint64_t value = 0;
  const char* end = text + std::strlen(text);
  auto [last, error] = std::from_chars(text, end, value);
  if (error != std::errc() || last != end) return std::nullopt;
  return value;
}

// Builds the address of `name`: "/path" or "@abstract". The length matters
// for an abstract name: its bytes after the leading NUL are the whole name,
// with no terminator, so the address length must end exactly at its end.
Result<std::pair<sockaddr_un, socklen_t>> notify_address(const std::string& name) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (name.front() != '/' && name.front() != '@') {
    // systemd also knows vsock: addresses (VMs); sproutd runs on the host.
    return plain_error("notify socket", "\"" + name +
                                            "\" is neither an absolute path nor an abstract "
                                            "name starting with @");
  }
  // A path needs room for its terminating NUL; an abstract name does not.
  const std::size_t room = sizeof address.sun_path - (name.front() == '/' ? 1 : 0);
  if (name.size() > room) {
    return plain_error("notify socket", "\"" + name + "\" is longer than " + std::to_string(room) +
                                            " bytes (sockaddr_un)");
  }
  std::memcpy(address.sun_path, name.data(), name.size());
  if (name.front() == '@') address.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                             (name.front() == '/' ? 1 : 0));
  return std::pair{address, length};
}

ServiceNotifier& process_notifier_storage() {
  static ServiceNotifier notifier;
  return notifier;
}

// Reschedules itself every `period` until the io_context stops (the pending
// wait is then destroyed with the io_context, and the timer with it).
void schedule_watchdog_ping(const std::shared_ptr<boost::asio::steady_timer>& timer,
                            std::chrono::microseconds period) {
  timer->expires_after(period);
  timer->async_wait([timer, period](boost::system::error_code error) {
    if (error) return;
    notify_service_manager("WATCHDOG=1");
    schedule_watchdog_ping(timer, period);
  });
}

}  // namespace

ServiceNotifier::ServiceNotifier(std::string socket,
                                 std::optional<std::chrono::microseconds> watchdog)
    : socket_(std::move(socket)), watchdog_(watchdog) {}

ServiceNotifier ServiceNotifier::from_environment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  std::string socket_name = socket ? socket : "";
  std::optional<std::chrono::microseconds> watchdog;
  const auto usec = parse_decimal(std::getenv("WATCHDOG_USEC"));
  const auto pid = parse_decimal(std::getenv("WATCHDOG_PID"));
  // WATCHDOG_PID names the process systemd watches: when sproutd was
  // started by a wrapper that did not exec it, the pings are not ours.
  const bool ours =
      !std::getenv("WATCHDOG_PID") || (pid && *pid == static_cast<uint64_t>(getpid()));
  if (usec && *usec > 0 && ours) watchdog = std::chrono::microseconds(*usec);
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  return ServiceNotifier(std::move(socket_name), watchdog);
}

Result<void> ServiceNotifier::notify(std::string_view message) const {
  if (!enabled()) return {};
  if (message.size() > kMaxNotificationBytes) {
    return plain_error("notify " + socket_,
                       "message of " + std::to_string(message.size()) + " bytes exceeds " +
                           std::to_string(kMaxNotificationBytes) + " (systemd drops longer ones)");
  }
  auto address = notify_address(socket_);
  if (!address) return std::unexpected(address.error());
  // Non-blocking: a stuck service manager must not stall the event loop.
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return os_error("notify socket");
  const auto sent = retry_eintr([&] {
    return ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address->first), address->second);
  });
  if (sent < 0) return os_error("notify", socket_);
  return {};
}

void install_process_notifier(ServiceNotifier notifier) {
  process_notifier_storage() = std::move(notifier);
}

const ServiceNotifier& process_notifier() { return process_notifier_storage(); }

void notify_service_manager(std::string_view message) {
  auto sent = process_notifier().notify(message);
  if (sent) return;
  // Once per key: a watchdog ping failing every 15 s must not flood the log.
  const std::string key(message.substr(0, message.find('=')));
  static std::mutex mutex;
  static std::set<std::string> logged;
  {
    std::lock_guard lock(mutex);
    if (!logged.insert(key).second) return;
  }
  log_line(LogLevel::kWarning,
           sent.error().message() + " (further " + key + " failures are not logged)");
}

void start_watchdog_pings(boost::asio::io_context& io) {
  const auto interval = process_notifier().watchdog_interval();
  if (!interval || !process_notifier().enabled()) return;
  // Half the interval, as sd_watchdog_enabled(3) advises: one late ping
  // does not cost a restart.
  const auto period = *interval / 2;
  log_line(LogLevel::kInfo,
           "systemd watchdog: pinging every " + std::to_string(period.count() / 1000) + " ms");
  schedule_watchdog_ping(std::make_shared<boost::asio::steady_timer>(io), period);
}

}  // namespace sprout::supervisor
