// supervisor/systemd_notify: the sd_notify datagrams as a service manager
// receives them, on sockets this test binds (a path and an abstract name),
// and the cases where nothing may be sent. No root needed.
#include "supervisor/systemd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
// Boost 1.74 uses std::exchange without including <utility> under C++23.
// clang-format off
#include <utility>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
// clang-format on

#include "base/unique_fd.h"

namespace sprout::supervisor {
namespace {

// A bound AF_UNIX datagram socket standing in for systemd's notify socket.
class FakeServiceManager {
 public:
  // `name`: "/path" or "@abstract", as $NOTIFY_SOCKET spells it.
  explicit FakeServiceManager(std::string name) : name_(std::move(name)) {
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd_.valid()) << std::strerror(errno);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    if (name_.front() == '@') address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() +
                                               (name_.front() == '/' ? 1 : 0));
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length), 0)
        << name_ << ": " << std::strerror(errno);
    // A bounded wait: a message that never comes fails the test, not hangs it.
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    EXPECT_EQ(::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout), 0);
  }
  ~FakeServiceManager() {
    if (name_.front() == '/') ::unlink(name_.c_str());
  }

  // The next datagram, or "" after the receive timeout.
  std::string receive() {
    std::string buffer(8192, '\0');
    const ssize_t got =
        retry_eintr([&] { return ::recv(fd_.get(), buffer.data(), buffer.size(), 0); });
    if (got < 0) return "";
    buffer.resize(static_cast<std::size_t>(got));
    return buffer;
  }

  // Whether a datagram waits, without waiting for one.
  bool has_pending() {
    char byte;
    return ::recv(fd_.get(), &byte, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
  }

 private:
  std::string name_;
  UniqueFd fd_;
};

std::string unique_suffix() {
  return std::to_string(getpid()) + "-" + std::to_string(std::random_device{}());
}

TEST(SystemdNotify, SendsToAPathSocket) {
  const std::string path = "/tmp/sprout-test-notify-" + unique_suffix() + ".sock";
  FakeServiceManager manager(path);
  ServiceNotifier notifier(path, std::nullopt);
  ASSERT_TRUE(notifier.enabled());
  auto sent = notifier.notify("READY=1\nSTATUS=serving");
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(manager.receive(), "READY=1\nSTATUS=serving");
}

TEST(SystemdNotify, SendsToAnAbstractName) {
  const std::string name = "@sprout-test-notify-" + unique_suffix();
  FakeServiceManager manager(name);
  ServiceNotifier notifier(name, std::nullopt);
  auto sent = notifier.notify("STOPPING=1");
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(manager.receive(), "STOPPING=1");
}

// The abstract name's length is part of the address: a name that is a prefix
// of the bound one (or the bound name with a trailing NUL) is another socket.
TEST(SystemdNotify, AbstractNameLengthIsExact) {
  const std::string name = "@sprout-test-notify-" + unique_suffix();
  FakeServiceManager manager(name);
  ServiceNotifier prefix(name.substr(0, name.size() - 1), std::nullopt);
  auto sent = prefix.notify("READY=1");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().err, ECONNREFUSED) << sent.error().message();
  EXPECT_FALSE(manager.has_pending());
}

TEST(SystemdNotify, WithoutNotifySocketNothingIsSent) {
  ServiceNotifier disabled;
  EXPECT_FALSE(disabled.enabled());
  EXPECT_TRUE(disabled.notify("READY=1"));
  // Even a message that would be refused is no error: nothing is sent.
  EXPECT_TRUE(disabled.notify(std::string(kMaxNotificationBytes + 1, 'x')));
}

TEST(SystemdNotify, RefusesAMessageTooLongForSystemd) {
  const std::string name = "@sprout-test-notify-" + unique_suffix();
  FakeServiceManager manager(name);
  ServiceNotifier notifier(name, std::nullopt);
  const std::string longest = "STATUS=" + std::string(kMaxNotificationBytes - 7, 'x');
  ASSERT_TRUE(notifier.notify(longest));
  EXPECT_EQ(manager.receive(), longest);
  auto sent = notifier.notify(longest + "x");
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().message().find("exceeds 4095"), std::string::npos)
      << sent.error().message();
  EXPECT_FALSE(manager.has_pending());
}

TEST(SystemdNotify, RefusesBadSocketNames) {
  for (const std::string& name : {std::string("relative/notify.sock"), std::string("vsock:2:999"),
                                  "/" + std::string(sizeof(sockaddr_un::sun_path) - 1, 'a'),
                                  "@" + std::string(sizeof(sockaddr_un::sun_path), 'a')}) {
    auto sent = ServiceNotifier(name, std::nullopt).notify("READY=1");
    EXPECT_FALSE(sent) << name;
  }
  // The longest that fit: 107 bytes of path plus its NUL; 108 of abstract name.
  const std::string longest_path = "/" + std::string(sizeof(sockaddr_un::sun_path) - 2, 'a');
  auto path_sent = ServiceNotifier(longest_path, std::nullopt).notify("READY=1");
  ASSERT_FALSE(path_sent);
  EXPECT_EQ(path_sent.error().err, ENOENT) << path_sent.error().message();  // valid, absent
}

TEST(SystemdNotify, NobodyListeningIsAnError) {
  const std::string path = "/tmp/sprout-test-notify-absent-" + unique_suffix() + ".sock";
  auto sent = ServiceNotifier(path, std::nullopt).notify("READY=1");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().err, ENOENT) << sent.error().message();
}

// Restores the variables from_environment() reads after each test.
class SystemdNotifyEnvironment : public ::testing::Test {
 protected:
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
};

TEST_F(SystemdNotifyEnvironment, TakesTheVariablesOutOfTheEnvironment) {
  ::setenv("NOTIFY_SOCKET", "@sprout-test-env", 1);
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  const ServiceNotifier notifier = ServiceNotifier::from_environment();
  EXPECT_EQ(notifier.socket(), "@sprout-test-env");
  ASSERT_TRUE(notifier.watchdog_interval());
  EXPECT_EQ(notifier.watchdog_interval()->count(), 2000000);
  // Children (agent, zygotes, functions) must not inherit them.
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
  EXPECT_EQ(std::getenv("WATCHDOG_USEC"), nullptr);
  EXPECT_EQ(std::getenv("WATCHDOG_PID"), nullptr);
}

TEST_F(SystemdNotifyEnvironment, NoVariablesMeansDisabled) {
  const ServiceNotifier notifier = ServiceNotifier::from_environment();
  EXPECT_FALSE(notifier.enabled());
  EXPECT_FALSE(notifier.watchdog_interval());
}

TEST_F(SystemdNotifyEnvironment, WatchdogForAnotherPidOrMalformedIsIgnored) {
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
  EXPECT_FALSE(ServiceNotifier::from_environment().watchdog_interval());
  for (const char* usec : {"0", "-5", "12abc", ""}) {
    ::setenv("WATCHDOG_USEC", usec, 1);
    EXPECT_FALSE(ServiceNotifier::from_environment().watchdog_interval()) << usec;
  }
  // Without WATCHDOG_PID the watchdog is ours (systemd before v209 set none).
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  EXPECT_TRUE(ServiceNotifier::from_environment().watchdog_interval());
}

// The process notifier pings from a timer on the event loop, every half
// watchdog interval, and stops with the loop.
TEST(SystemdNotify, WatchdogPingsFromTheEventLoop) {
  const std::string name = "@sprout-test-notify-" + unique_suffix();
  FakeServiceManager manager(name);
  install_process_notifier(ServiceNotifier(name, std::chrono::milliseconds(200)));
  boost::asio::io_context io;
  start_watchdog_pings(io);
  std::thread loop([&io] { io.run(); });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(manager.receive(), "WATCHDOG=1");
  EXPECT_EQ(manager.receive(), "WATCHDOG=1");
  // Two pings at 100 ms intervals: not before 200 ms have passed.
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(190));
  io.stop();
  loop.join();
  install_process_notifier(ServiceNotifier());
}

// Without a watchdog interval nothing is scheduled: the loop has no work
// and run() returns at once.
TEST(SystemdNotify, NoWatchdogNoPings) {
  const std::string name = "@sprout-test-notify-" + unique_suffix();
  FakeServiceManager manager(name);
  install_process_notifier(ServiceNotifier(name, std::nullopt));
  boost::asio::io_context io;
  start_watchdog_pings(io);
  EXPECT_EQ(io.run(), 0U);
  EXPECT_FALSE(manager.has_pending());
  install_process_notifier(ServiceNotifier());
}

}  // namespace
}  // namespace sprout::supervisor
