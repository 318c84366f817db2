// sproutd: the sprout supervisor. See README.md and docs/api.md.
//
//   sproutd [--socket PATH] [--state-dir DIR] [--config FILE] ...
//
// Start-up order: configuration -> host id range (refused, exit 2, when an
// account uses one of its ids) -> cgroup pool (removing what a crashed
// sproutd left) -> registry (removing half-written deploys) -> every stored
// function taken in (each loads on its first invocation) -> the event
// database (<state>/events.db: queued events, schedules, triggers, history)
// -> the HTTP
// listener when asked ("sproutd: http listening on ADDR:PORT" on stdout,
// the port actually bound) -> socket -> "sproutd: ready on PATH" on stdout.
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "base/log.h"
#include "http/front_door.h"
#include "host/cgroup_pool.h"
#include "snapshot/host_ids.h"
#include "snapshot/sandbox_reaper.h"
#include "supervisor/config.h"
#include "supervisor/event_service.h"
#include "supervisor/function_manager.h"
#include "supervisor/registry.h"
#include "supervisor/server.h"
#include "supervisor/systemd_notify.h"

namespace {

// sprout-agent: configured, else beside sproutd (build tree), else in
// ../lib/sprout (installed), else where this build put it.
std::string find_agent(const std::string& configured) {
  if (!configured.empty()) return configured;
  char self[PATH_MAX] = {};
  if (readlink("/proc/self/exe", self, sizeof self - 1) > 0) {
    std::filesystem::path dir = std::filesystem::path(self).parent_path();
    for (const auto& candidate : {dir / "sprout-agent", dir / "../agent/sprout-agent",
                                  dir / "../lib/sprout/sprout-agent"}) {
      if (access(candidate.c_str(), X_OK) == 0) return std::filesystem::weakly_canonical(candidate);
    }
  }
  return SPROUT_BUILD_AGENT_PATH;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sprout;
  // First, before any thread: it takes NOTIFY_SOCKET and WATCHDOG_* out of
  // the environment that children inherit.
  supervisor::install_process_notifier(supervisor::ServiceNotifier::from_environment());
  auto config = supervisor::load_config(argc, argv);
  if (!config) {
    const bool help = config.error().code == ErrorCode::kUsage;
    std::fprintf(help ? stdout : stderr, "%s%s",
                 help ? "" : "sproutd: ", config.error().message().c_str());
    if (!help) std::fprintf(stderr, "\n");
    return help ? 0 : 2;
  }
  // Zygotes and snapshots run as host ids of their own, from a range that no
  // account may share. Without root sproutd cannot switch ids: everything
  // then runs as sproutd's own.
  std::optional<HostIdRange> host_ids;
  if (geteuid() == 0) {
    auto range = supervisor::host_id_range_of(*config);
    if (!range) {
      std::fprintf(stderr, "sproutd: %s\n", range.error().message().c_str());
      return 2;
    }
    host_ids = std::move(*range);
  } else {
    log_line(LogLevel::kWarning,
             "not root: zygotes and snapshots run as sproutd's own uid, not host ids of their own");
  }
  // A client that vanishes must not kill the daemon with SIGPIPE.
  static_cast<void>(signal(SIGPIPE, SIG_IGN));  // cannot fail for SIGPIPE

  auto pool = CgroupPool::create({.prefix = "sproutd", .prewarm = 8, .max_idle = 256});
  if (!pool) {
    log_line(LogLevel::kError, "cgroups: " + pool.error().message());
    return 1;
  }
  auto registry = supervisor::Registry::open(config->state_dir());
  if (!registry) {
    log_line(LogLevel::kError, "state directory: " + registry.error().message());
    return 1;
  }
  const std::string agent = find_agent(config->agent_path());
  log_line(LogLevel::kInfo, "sprout-agent: " + agent + "; " + (*pool)->layout().describe() +
                                "; state in " + config->state_dir());
  int exit_code = 0;
  {
    supervisor::FunctionManager manager(*config, **registry, pool->get(), agent,
                                        std::move(host_ids));
    manager.restore();
    auto events = supervisor::EventService::open(*config, manager);
    if (!events) {
      // Never started without them: a queue that cannot be read would
      // silently drop what it promised to deliver.
      log_line(LogLevel::kError, "events: " + events.error().message() + " (" +
                                     config->state_dir() +
                                     "/events.db holds the queued events, schedules, triggers "
                                     "and history: repair or restore it, or move it aside to "
                                     "start without them)");
      return 1;
    }
    supervisor::Server server(*config, manager);
    server.set_event_service(events->get());
    server.add_drain_participant(events->get());
    manager.set_connection_count("api_socket", [&server] { return server.connection_count(); });
    // After the server (it serves on the server's io_context), so destroyed
    // before it.
    std::optional<http::HttpFrontDoor> front_door;
    if (!config->http_listen().empty()) {
      front_door.emplace(server, *config, manager);
      auto bound = front_door->listen();
      if (!bound) {
        log_line(LogLevel::kError, bound.error().message());
        exit_code = 1;
      } else {
        std::printf("sproutd: http listening on %s\n", http::describe_endpoint(*bound).c_str());
        (void)std::fflush(stdout);  // read by whoever started sproutd; nothing to do if gone
        log_line(LogLevel::kInfo, "http: serving on " + http::describe_endpoint(*bound));
        server.add_drain_participant(&*front_door);
        manager.set_connection_count("http",
                                     [door = &*front_door] { return door->connection_count(); });
        front_door->start();
      }
    }
    // When the HTTP listener could not bind, nothing is served.
    if (exit_code == 0) {
      if (auto listening = server.listen(); !listening) {
        log_line(LogLevel::kError, listening.error().message());
        exit_code = 1;
      } else {
        // Queued events, schedules and triggers start with the server.
        (*events)->start();
        supervisor::start_watchdog_pings(server.io_context());
        server.run();
      }
    }
    // Before the manager: nothing may feed it any more. The service itself
    // lives until the manager is gone (late answers find it stopped).
    (*events)->stop();
    // The counts' owners end before the manager.
    manager.set_connection_count("http", nullptr);
    manager.set_connection_count("api_socket", nullptr);
  }
  SandboxReaper::instance().wait_until_empty();
  return exit_code;
}
