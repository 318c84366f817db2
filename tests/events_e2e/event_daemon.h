// The real sproutd for the event sources' end-to-end tests: DaemonTest
// (tests/e2e/daemon_fixture.h) with a configuration that makes retries
// short, and the calls these tests make over the socket.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/mini_json.h"

namespace sprout::testing {

class EventDaemonTest : public DaemonTest {
 protected:
  // sproutd with --config: async retries 300 ms apart (not Lambda's
  // minutes) plus `extra_config` (protobuf text format).
  void start_event_daemon(const std::string& extra_config = "");
  // SIGKILL, reaped: nothing of it runs its shutdown.
  void kill_daemon();

  // One call over the socket; throws on a transport failure.
  api::Response call(api::Request request);
  std::string submit(const std::string& function, const std::string& payload);
  api::GetResultResponse wait_result(const std::string& invocation_id);
  std::vector<api::HistoryEntry> history(const std::string& function, uint32_t limit = 1000);
  std::vector<api::DeadLetter> dead_letters(const std::string& function);
  // `sprout ARGS --json`, which must succeed; its JSON. Throws otherwise.
  Json cli_json(std::vector<std::string> args);

  // A CLI call that must be refused: `sprout COMMAND... ARGS...` exits
  // `exit_code` and says `says` on stderr.
  struct RefusedCall {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  };
  // Runs each case (`command`: "schedule", "add"), checks both, and returns
  // what each printed, in order, for checks of the caller's own.
  std::vector<CommandResult> expect_refused(const std::vector<std::string>& command,
                                            const std::vector<RefusedCall>& cases);

  // Polls `condition` every 50 ms until it holds or `deadline` passes.
  static bool eventually(const std::function<bool()>& condition,
                         std::chrono::milliseconds deadline = std::chrono::seconds(60));
};

}  // namespace sprout::testing
