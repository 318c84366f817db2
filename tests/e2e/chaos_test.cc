// Chaos: kill -9 of a sandbox, a snapshot, a zygote and sproutd with calls in flight.
//
// Real processes, real signals. Every test deploys a python3 function whose
// handler renames itself (comm) and then blocks until the test sends it
// SIGUSR1, so that "N invocations in flight" is a fact read from /proc, not
// a guess from a sleep. The test then SIGKILLs one process of one layer,
// found by its parent relations (sproutd > zygote, sproutd > snapshot >
// sandbox), and asserts:
//   - every call in flight gets an answer within a generous deadline (no
//     hang), with the status the kill provokes;
//   - the next calls succeed;
//   - nothing is left: no process of the killed layer (not even a zombie),
//     Health's counters back to what the live processes account for, and
//     once sproutd stops, no cgroup lease still out, no cgroup, no process
//     under the run's private host ids.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/attack_fixture.h"

namespace sprout::testing {
namespace {

using namespace std::chrono_literals;

// The handler renames itself to $SPROUT_TEST_TAG + "run" once it is in the
// handler, then waits for SIGUSR1 (at most event["max_s"] seconds). The
// signal handler is installed before the rename: a SIGUSR1 sent as soon as
// the name shows cannot kill it.
const char kBlockerBody[] = R"PY(
RELEASED = [False]
def _release(signum, frame):
    RELEASED[0] = True
def handler(event, context):
    signal.signal(signal.SIGUSR1, _release)
    set_comm((TAG + "run")[:15])
    deadline = time.time() + float(event.get("max_s", 60))
    while not RELEASED[0] and time.time() < deadline:
        time.sleep(0.02)
    return {"released": RELEASED[0]}
)PY";

constexpr int kInFlight = 8;
// Bounds, not expectations: every wait below polls its condition and ends
// as soon as it holds. A loaded two-core machine forks eight Python
// sandboxes in a few seconds.
constexpr auto kCallBound = 90s;
constexpr auto kSettleBound = 30s;

// Calls made on threads of their own, each on its own connection, so that
// they are truly concurrent and can each be waited for with a deadline (the
// client's futures are deferred: they run in the waiter).
class CallBatch {
 public:
  CallBatch(const std::string& socket, const std::string& function, const std::string& payload,
            int count) {
    for (int i = 0; i < count; ++i) {
      auto promise = std::make_shared<std::promise<ClientResult<api::InvokeResponse>>>();
      futures_.push_back(promise->get_future());
      threads_.emplace_back([socket, function, payload, promise] {
        auto client = Client::connect(socket);
        if (!client) {
          promise->set_value(std::unexpected(client.error()));
          return;
        }
        promise->set_value((*client)->invoke(function, payload));
      });
    }
  }
  // A batch left before finish() (a failed ASSERT) would wait for its
  // handlers' own bound: `abandon` (killing sproutd) ends the calls first.
  ~CallBatch() {
    if (!joined_ && abandon) abandon();
    join();
  }
  std::function<void()> abandon;

  // Every call's result, each waited for until `deadline`; nullopt for a
  // call that had not returned by then. Call join() after ending whatever
  // held the stragglers (sproutd).
  std::vector<std::optional<ClientResult<api::InvokeResponse>>> collect(
      std::chrono::steady_clock::time_point deadline) {
    std::vector<std::optional<ClientResult<api::InvokeResponse>>> results;
    for (auto& future : futures_) {
      if (future.wait_until(deadline) == std::future_status::ready) {
        results.emplace_back(future.get());
      } else {
        results.emplace_back(std::nullopt);
      }
    }
    return results;
  }
  void join() {
    for (auto& thread : threads_)
      if (thread.joinable()) thread.join();
    joined_ = true;
  }

 private:
  bool joined_ = false;
  std::vector<std::future<ClientResult<api::InvokeResponse>>> futures_;
  std::vector<std::thread> threads_;
};

std::string describe(const ClientResult<api::InvokeResponse>& result) {
  if (!result)
    return "call failed: " + api::Status_Name(result.error().status) + ": " +
           result.error().message;
  return api::Status_Name(result->status()) +
         (result->detail().empty() ? "" : " (" + result->detail() + ")") +
         " result=" + result->result();
}

// Gone for good: no such process, or the pid names another one now. A
// zombie still counts as present: an unreaped child is a leak too.
bool gone(const ProcessInfo& process) {
  auto now = read_process(process.pid);
  return !now || now->start_time != process.start_time;
}

class ChaosTest : public AttackTest {
 protected:
  void SetUp() override {
    AttackTest::SetUp();
    if (IsSkipped()) return;
    // A host-id range of this test's own: a process under it after sproutd
    // stopped is this test's leftover, whatever else runs on the machine.
    uint32_t slot = static_cast<uint32_t>(std::stoul(random_hex(4), nullptr, 16)) % 15000;
    host_id_first_ = 3100000000u + slot * 65536u;
  }

  void start_chaos() {
    start({"--host-id-first", std::to_string(host_id_first_), "--host-id-count", "65536"});
  }

  // The blocking function, its processes named tag("bl"), in flight tag("blrun").
  void deploy_blocker(const std::string& name, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> flags{"--timeout-ms", "120000", "--max-concurrency", "16",
                                   "--tenant", "chaos" + prefix_};
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto deployed = deploy(name, kBlockerBody, tag("bl"), flags);
    ASSERT_TRUE(deployed.ok()) << deployed.text;
  }

  std::string running_comm() const { return tag("blrun"); }

  // kInFlight calls of `name` that block until released.
  std::unique_ptr<CallBatch> start_blocked_calls(const std::string& name) {
    auto batch = std::make_unique<CallBatch>(socket_, name, R"({"max_s": 80})", kInFlight);
    batch->abandon = [this] {
      if (daemon_ > 0) kill(daemon_, SIGKILL);
    };
    return batch;
  }

  std::vector<ProcessInfo> running_sandboxes() {
    std::vector<ProcessInfo> found;
    for (auto& p : processes_named(running_comm()))
      if (p.state != 'Z') found.push_back(std::move(p));
    return found;
  }

  // Waits until `count` handlers are blocked in flight; returns them.
  std::vector<ProcessInfo> wait_in_flight(size_t count) {
    std::vector<ProcessInfo> found;
    wait_until(
        [&] {
          found = running_sandboxes();
          return found.size() >= count;
        },
        60s);
    return found;
  }

  static void release(const std::vector<ProcessInfo>& sandboxes) {
    for (const auto& sandbox : sandboxes)
      if (!gone(sandbox)) kill(sandbox.pid, SIGUSR1);
  }

  // The batch's results; a call that did not return within kCallBound is a
  // failure (a hang), and sproutd is killed so that the thread returns.
  std::vector<ClientResult<api::InvokeResponse>> finish(CallBatch& batch) {
    auto results = batch.collect(std::chrono::steady_clock::now() + kCallBound);
    std::vector<ClientResult<api::InvokeResponse>> answered;
    int hung = 0;
    for (auto& result : results) {
      if (result) {
        answered.push_back(std::move(*result));
      } else {
        ++hung;
      }
    }
    if (hung > 0) {
      ADD_FAILURE() << hung << " call(s) in flight got no answer within " << kCallBound.count()
                    << " s; killing sproutd to end them; log: " << read_text(daemon_log_);
      if (daemon_ > 0) kill(daemon_, SIGKILL);
    }
    batch.join();
    return answered;
  }

  std::optional<api::HealthResponse> health() {
    auto client = Client::connect(socket_);
    if (!client) return std::nullopt;
    auto health = (*client)->health();
    if (!health) return std::nullopt;
    return *health;
  }

  // Waits until Health reads as `expected` (the fields that account for
  // processes); reports the last reading otherwise.
  void expect_health_settles(uint32_t zygotes, uint32_t snapshots, uint32_t host_ids) {
    std::optional<api::HealthResponse> last;
    bool settled = wait_until(
        [&] {
          last = health();
          return last && last->live_sandboxes() == 0 && last->live_zygotes() == zygotes &&
                 last->live_snapshots() == snapshots && last->host_ids_in_use() == host_ids;
        },
        kSettleBound);
    EXPECT_TRUE(settled) << "expected 0 live sandboxes, " << zygotes << " zygote(s), " << snapshots
                         << " snapshot(s), " << host_ids << " host id(s) in use; last Health: "
                         << (last ? last->ShortDebugString() : std::string("none"));
  }

  void expect_all_gone(const std::vector<ProcessInfo>& processes, const std::string& what) {
    bool all_gone = wait_until(
        [&] { return std::all_of(processes.begin(), processes.end(), gone); }, kSettleBound);
    if (all_gone) return;
    std::string left;
    for (const auto& p : processes)
      if (auto now = read_process(p.pid); now && !gone(p))
        left += " " + std::to_string(p.pid) + " (" + p.comm + ", state " + now->state + ")";
    ADD_FAILURE() << what << " left behind:" << left;
  }

  // Processes running under this test's host ids (zygotes, snapshots,
  // sandboxes and whatever they started).
  std::vector<ProcessInfo> under_our_host_ids() {
    std::vector<ProcessInfo> found;
    for (auto& p : all_processes())
      if (p.uid >= host_id_first_ && p.uid - host_id_first_ < 65536u) found.push_back(std::move(p));
    return found;
  }

  // Lines of /proc/mounts that name this test's directory.
  std::vector<std::string> our_mounts() {
    std::vector<std::string> found;
    std::istringstream mounts(read_text("/proc/mounts"));
    std::string line;
    while (std::getline(mounts, line))
      if (line.find(dir_) != std::string::npos) found.push_back(line);
    return found;
  }

  // Non-empty leaves under sproutd-PID (memory hierarchy), with their pids.
  std::vector<std::string> populated_leaves(pid_t daemon) {
    std::vector<std::string> found;
    for (const auto& dir : cgroup_dirs_named("sproutd-" + std::to_string(daemon))) {
      if (dir.find("/memory") == std::string::npos) continue;
      for_each_directory_under(dir, [&](const std::string& leaf) {
        std::string procs = read_text(leaf + "/cgroup.procs");
        if (!procs.empty())
          found.push_back(std::filesystem::path(leaf).filename().string() + ": " + procs);
        return false;  // leaves only
      });
    }
    return found;
  }

  // Every populated cgroup leaf holds a live process of the function's
  // current snapshot tree, one leaf per process: a leaf is given back when
  // its sandbox or snapshot ends.
  void expect_leaves_match_processes() {
    size_t processes = 0;
    std::vector<std::string> leaves;
    bool matched = wait_until(
        [&] {
          processes = 0;
          for (const auto& p : processes_with_prefix(tag("bl")))
            if (p.state != 'Z') ++processes;
          leaves = populated_leaves(daemon_);
          return leaves.size() == processes;
        },
        kSettleBound);
    std::string listed;
    for (const auto& leaf : leaves) listed += " [" + leaf + "]";
    EXPECT_TRUE(matched) << processes << " live function process(es), populated leaves:" << listed;
  }

  // sproutd stops cleanly and leaves nothing: no lease still out, no
  // cgroup, no process under the test's host ids, no mount.
  void expect_clean_stop() {
    ASSERT_GT(daemon_, 0);
    const pid_t daemon = daemon_;
    EXPECT_EQ(stop_daemon(), 0) << read_text(daemon_log_);
    const std::string log = read_text(daemon_log_);
    EXPECT_EQ(log.find("leases still out"), std::string::npos) << log;
    EXPECT_TRUE(cgroup_dirs_named("sproutd-" + std::to_string(daemon)).empty());
    std::vector<ProcessInfo> left;
    wait_until(
        [&] {
          left = under_our_host_ids();
          return left.empty();
        },
        kSettleBound);
    for (const auto& p : left)
      ADD_FAILURE() << "left after sproutd stopped: " << p.pid << " " << p.comm << " uid " << p.uid;
    EXPECT_TRUE(our_mounts().empty());
  }

  // The next calls after the kill: all OK (the handler returns at once).
  void expect_next_calls_succeed(const std::string& name, int calls = 4) {
    for (int i = 0; i < calls; ++i) {
      Invoked next = invoke(name, R"({"max_s": 0})", kCallBound);
      EXPECT_TRUE(next.answered && next.status == api::OK) << "call " << i << ": " << next.describe();
    }
  }

  uint32_t host_id_first_ = 0;
};

// Outcome provoked: one sandbox of eight in flight dies by SIGKILL. That call
// ends CRASHED naming the signal; the seven others, released afterwards,
// answer OK; the snapshot lives on; the dead sandbox is reaped and its leaf
// given back.
TEST_F(ChaosTest, KilledSandboxEndsItsCallCrashedAndOnlyThatOne) {
  start_chaos();
  deploy_blocker("blocker", {"--no-prefork"});
  auto snapshot = snapshot_of(tag("bl"));
  ASSERT_TRUE(snapshot);
  auto batch = start_blocked_calls("blocker");
  auto in_flight = wait_in_flight(kInFlight);
  ASSERT_EQ(in_flight.size(), static_cast<size_t>(kInFlight)) << "handlers in flight";
  const ProcessInfo victim = in_flight.front();
  ASSERT_EQ(kill(victim.pid, SIGKILL), 0);
  expect_all_gone({victim}, "the killed sandbox");
  release(in_flight);
  auto results = finish(*batch);
  ASSERT_EQ(results.size(), static_cast<size_t>(kInFlight));
  int ok = 0;
  for (const auto& result : results) {
    if (result && result->status() == api::OK) {
      ++ok;
      EXPECT_EQ(result->result(), R"({"released": true})");
      continue;
    }
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_EQ(result->status(), api::CRASHED) << describe(result);
    EXPECT_FALSE(result->detail().empty()) << describe(result);
    EXPECT_NE(result->detail().find("signal KILL"), std::string::npos) << describe(result);
  }
  EXPECT_EQ(ok, kInFlight - 1);
  EXPECT_TRUE(alive(*snapshot)) << "a sandbox's death does not touch its snapshot";
  expect_next_calls_succeed("blocker");
  expect_health_settles(1, 1, 2);
  // Answered sandboxes are killed and reaped in the background: wait.
  EXPECT_TRUE(wait_until([&] { return running_sandboxes().empty(); }, kSettleBound));
  expect_leaves_match_processes();
  expect_clean_stop();
}

// Outcome provoked: the snapshot dies by SIGKILL with eight calls in flight
// and two idle pre-forked sandboxes. Every process of its pid namespace dies
// with it; every call ends CRASHED; the next call rebuilds the snapshot from
// the zygote; the old snapshot's host id and leaves are given back.
TEST_F(ChaosTest, KilledSnapshotEndsEveryCallInFlightAndIsRebuilt) {
  start_chaos();
  deploy_blocker("blocker", {"--prefork-min", "2", "--prefork-max", "2"});
  auto snapshot = snapshot_of(tag("bl"));
  ASSERT_TRUE(snapshot);
  auto batch = start_blocked_calls("blocker");
  auto in_flight = wait_in_flight(kInFlight);
  ASSERT_EQ(in_flight.size(), static_cast<size_t>(kInFlight)) << "handlers in flight";
  // The snapshot is sproutd's child (CLONE_PARENT) in a pid namespace of
  // its own; the sandboxes, running or pre-forked, are its children.
  ASSERT_EQ(snapshot->ppid, daemon_);
  std::vector<ProcessInfo> doomed = descendants(snapshot->pid);
  for (const auto& sandbox : in_flight)
    EXPECT_EQ(sandbox.ppid, snapshot->pid) << "sandbox " << sandbox.pid;
  doomed.push_back(*snapshot);
  ASSERT_EQ(kill(snapshot->pid, SIGKILL), 0);
  auto results = finish(*batch);
  ASSERT_EQ(results.size(), static_cast<size_t>(kInFlight));
  for (const auto& result : results) {
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_EQ(result->status(), api::CRASHED) << describe(result);
    EXPECT_FALSE(result->detail().empty()) << describe(result);
  }
  expect_all_gone(doomed, "the killed snapshot's processes");
  expect_next_calls_succeed("blocker");
  auto rebuilt = snapshot_of(tag("bl"));
  ASSERT_TRUE(rebuilt);
  EXPECT_NE(rebuilt->pid, snapshot->pid);
  expect_health_settles(1, 1, 2);
  expect_leaves_match_processes();
  expect_clean_stop();
}

// Outcome provoked: the tenant's zygote dies by SIGKILL with eight calls in
// flight. A zygote serves no invocation (snapshots are sproutd's children),
// so all eight, released afterwards, answer OK; the dead zygote is reaped;
// the next deploy of the tenant starts a new zygote, and the calls of both
// functions succeed.
TEST_F(ChaosTest, KilledZygoteLeavesCallsInFlightUntouchedAndIsRestarted) {
  start_chaos();
  deploy_blocker("blocker", {"--no-prefork"});
  auto zygotes_before = zygotes();
  ASSERT_EQ(zygotes_before.size(), 1u);
  const ProcessInfo zygote = zygotes_before.front();
  EXPECT_EQ(zygote.ppid, daemon_);
  auto batch = start_blocked_calls("blocker");
  auto in_flight = wait_in_flight(kInFlight);
  ASSERT_EQ(in_flight.size(), static_cast<size_t>(kInFlight)) << "handlers in flight";
  ASSERT_EQ(kill(zygote.pid, SIGKILL), 0);
  release(in_flight);
  auto results = finish(*batch);
  ASSERT_EQ(results.size(), static_cast<size_t>(kInFlight));
  for (const auto& result : results) {
    ASSERT_TRUE(result.has_value()) << describe(result);
    EXPECT_EQ(result->status(), api::OK) << describe(result);
  }
  expect_next_calls_succeed("blocker");
  // Another function of the same tenant needs the tenant's zygote.
  deploy_blocker("second", {"--no-prefork"});
  expect_next_calls_succeed("second");
  auto zygotes_after = zygotes();
  ASSERT_EQ(zygotes_after.size(), 1u);
  EXPECT_NE(zygotes_after.front().pid, zygote.pid);
  expect_all_gone({zygote}, "the killed zygote");
  expect_health_settles(1, 2, 3);
  expect_leaves_match_processes();
  expect_clean_stop();
}

// Outcome provoked: the tenant's zygote dies by SIGKILL while its tenant
// needs no new snapshot. sproutd reaps it (its pidfd is readable at once)
// and gives its host id back, without waiting for the tenant's next load:
// Health then reads no live zygote and one host id (the snapshot's). A
// dead snapshot is reaped so (KilledSnapshot... above, and an idle one too).
TEST_F(ChaosTest, KilledZygoteIsReapedWithoutWaitingForTheNextLoad) {
  start_chaos();
  deploy_blocker("blocker", {"--no-prefork"});
  auto zygotes_before = zygotes();
  ASSERT_EQ(zygotes_before.size(), 1u);
  const ProcessInfo zygote = zygotes_before.front();
  expect_health_settles(1, 1, 2);
  ASSERT_EQ(kill(zygote.pid, SIGKILL), 0);
  expect_all_gone({zygote}, "the killed zygote (a zombie: not reaped)");
  expect_health_settles(0, 1, 1);
  // And the tenant's next load starts a new one.
  deploy_blocker("second", {"--no-prefork"});
  expect_next_calls_succeed("second");
  expect_all_gone({zygote}, "the killed zygote, after the next load");
  expect_health_settles(1, 2, 3);
  expect_clean_stop();
}

// Outcome provoked: sproutd itself dies by SIGKILL with eight calls in
// flight. Every call returns at once with UNAVAILABLE (the connection
// closed); its zygote, snapshot and sandboxes die with it
// (PR_SET_PDEATHSIG). A sproutd restarted on the same state directory and
// socket removes the dead run's cgroups, serves the function again, and
// leaves no mount.
TEST_F(ChaosTest, KilledSproutdEndsEveryCallAndARestartCleansUpAndServes) {
  start_chaos();
  deploy_blocker("blocker", {"--prefork-min", "2", "--prefork-max", "2"});
  ASSERT_TRUE(snapshot_of(tag("bl")));
  auto batch = start_blocked_calls("blocker");
  auto in_flight = wait_in_flight(kInFlight);
  ASSERT_EQ(in_flight.size(), static_cast<size_t>(kInFlight)) << "handlers in flight";
  const pid_t crashed = daemon_;
  const std::vector<ProcessInfo> doomed = descendants(crashed);
  // A zygote, a snapshot, eight running and two pre-forked sandboxes (the
  // pool may still be refilling).
  EXPECT_GE(doomed.size(), static_cast<size_t>(2 + kInFlight));
  ASSERT_FALSE(cgroup_dirs_named("sproutd-" + std::to_string(crashed)).empty());
  ASSERT_EQ(kill(crashed, SIGKILL), 0);
  ASSERT_EQ(waitpid(crashed, nullptr, 0), crashed);
  daemon_ = -1;
  auto results = finish(*batch);
  ASSERT_EQ(results.size(), static_cast<size_t>(kInFlight));
  for (const auto& result : results) {
    ASSERT_FALSE(result.has_value()) << describe(result);
    EXPECT_EQ(result.error().status, api::UNAVAILABLE) << describe(result);
    EXPECT_NE(result.error().message.find("closed"), std::string::npos) << describe(result);
  }
  expect_all_gone(doomed, "the dead sproutd's zygote, snapshot and sandboxes");

  start_chaos();  // same socket, same state directory
  EXPECT_TRUE(cgroup_dirs_named("sproutd-" + std::to_string(crashed)).empty())
      << "the restarted sproutd removes the dead run's cgroups";
  EXPECT_TRUE(our_mounts().empty());
  expect_next_calls_succeed("blocker");
  expect_health_settles(1, 1, 2);
  auto after = health();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->functions(), 1u);
  expect_clean_stop();
}

}  // namespace
}  // namespace sprout::testing
