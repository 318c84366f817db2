// The attack tests' fixture: a real sproutd (DaemonTest), functions written
// inline in Python that attempt an attack and report what happened as JSON,
// and the host's view of the processes they leave.
//
// Every function deployed through deploy() names its processes (snapshot,
// sandboxes, anything they fork) with a comm of the test's own, so that the
// host can find them; TearDown kills whatever carries the test's prefix
// after sproutd has stopped, so that an attack that succeeded leaves nothing
// behind either.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/mini_json.h"
#include "tests/e2e/process_scan.h"

namespace sprout::testing {

// Python prepended to every function's source. Defines:
//   sys_call(nr, *args) -> {"ret", "errno", "err"}  raw system call through ctypes
//   set_comm(name)                                 prctl(PR_SET_NAME)
//   TAG                                            $SPROUT_TEST_TAG, set as the comm at import
//   in_child(fn) -> {"result": fn()} | {"killed_by": sig} | {"exception": ...}
//                                                  fn run in a forked child
//   FORKING[0]                                     True while in_child forks (hooks skip it)
//   kill_probe(pid) -> {"ok", "errno", "err"}      kill(pid, 0): the permission check of a real
//   signal
extern const char kPythonPrelude[];

struct Deployed {
  int exit_code = -1;
  Json json;         // `sprout deploy --json` output
  std::string text;  // raw stdout + stderr
  bool ok() const { return exit_code == 0; }
  std::string status() const { return json["status"].as_string(); }
};

struct Invoked {
  bool answered = false;  // false: the call itself failed (error in `detail`)
  api::Status status = api::STATUS_UNSPECIFIED;
  std::string detail;
  std::string result;  // raw result bytes (JSON)
  Json json;           // result parsed (null if not JSON)
  std::string logs;
  bool preforked = false;
  std::string describe() const;
};

class AttackTest : public DaemonTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // start_daemon(), remembering the pid for the cleanup of its cgroups.
  void start(const std::vector<std::string>& flags = {});

  // sproutd was started and has not ended (invoke() kills it when a call
  // passes its bound).
  bool daemon_running() const;
  // `sprout ARGS...`, killed after `bound` (exit_code -2 then): a wedged
  // sproutd must not hang the test.
  CommandResult cli(const std::vector<std::string>& args,
                    std::chrono::seconds bound = std::chrono::seconds(60));

  // prefix_ + suffix: the comm of a function's processes (at most 15 bytes).
  std::string tag(const std::string& suffix) const;

  // `sprout deploy NAME --runtime python3 --code <prelude + body> --json`,
  // with --env SPROUT_TEST_TAG=<comm> and `extra`. Does not assert.
  Deployed deploy(const std::string& name, const std::string& body, const std::string& comm,
                  const std::vector<std::string>& extra = {});
  Deployed deploy_file(const std::string& name, const std::string& runtime, const std::string& path,
                       const std::vector<std::string>& extra = {});
  // Through the client library, waiting at most `bound` for the answer.
  Invoked invoke(const std::string& name, const std::string& payload = "{}",
                 std::chrono::seconds bound = std::chrono::seconds(60));
  // `sprout ARGS... --json`, parsed (null on unparsable output).
  Json cli_json(std::vector<std::string> args);
  // idle_sandboxes of NAME in `sprout ls --json`; -1 if not listed.
  int idle_sandboxes(const std::string& name);

  // The function snapshot whose processes are named `comm`: among them, the
  // one in the outermost pid namespace (sandboxes are nested below it).
  std::optional<ProcessInfo> snapshot_of(const std::string& comm,
                                         std::chrono::milliseconds wait = std::chrono::seconds(10));
  // Runtime zygotes: sprout-agent processes below sproutd, in sproutd's pid
  // namespace, that no function named (every test function renames its own).
  std::vector<ProcessInfo> zygotes();
  // A sleeping process of the test's own as uid/gid; killed at TearDown.
  pid_t sleeper_as(uid_t uid, gid_t gid, const std::string& comm);

  std::string prefix_;
  std::vector<pid_t> daemons_;
  std::vector<pid_t> sleepers_;
};

}  // namespace sprout::testing
