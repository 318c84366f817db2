// Schedules end to end, on the real sproutd and the real CLI: a rate in
// seconds fires on time with EventBridge's Scheduled Event; after downtime
// (SIGTERM or kill -9) at most max_catch_up missed fires are made up; a
// slow run is never overlapped unless allowed; `schedule rm` and deleting
// the function stop the fires; bad expressions and zones are refused.
//
// Times: the assertions are about the scheduled `time` of each run (a grid
// of whole seconds from the schedule's creation) and counts, not about how
// fast this machine is. "On time" allows a few seconds between the `time`
// and the history's start of the run.
#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/e2e/mini_json.h"
#include "tests/events_e2e/event_daemon.h"

namespace sprout::testing {
namespace {

// Returns its event, after sleeping $SLEEP seconds and `sleep` seconds if
// the event asks.
constexpr const char* kEchoHandler = R"(import os, time
def handler(event, context):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    if isinstance(event, dict) and event.get("sleep"):
        time.sleep(event["sleep"])
    return event
)";

constexpr const char* kRuleArnPrefix = "arn:aws:events:us-east-1:000000000000:rule/";
// Start of a run later than its scheduled time by more than this is not on
// time. Generous: the machine may be loaded; fires are seconds apart.
constexpr int64_t kOnTimeSlackMs = 5000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2025-11-30T01:00:00Z" -> Unix ms; -1 if it is not that form.
int64_t parse_event_time(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail() || in.get() != 'Z' || in.peek() != EOF) return -1;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

int64_t median(std::vector<int64_t> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// One run of a schedule, as the history shows it.
struct ScheduleRun {
  api::HistoryEntry entry;
  std::optional<Json> result;  // the handler's answer: the event it got
  int64_t time_ms = -1;        // the Scheduled Event's `time`; -1: none
};

class ScheduleEventsTest : public EventDaemonTest {
 protected:
  // The runs of schedule `id` in `function`'s history, oldest first.
  std::vector<ScheduleRun> runs(const std::string& function, const std::string& id) {
    std::vector<ScheduleRun> out;
    for (const auto& entry : history(function)) {
      if (entry.source() != api::SCHEDULE || entry.source_id() != id) continue;
      ScheduleRun run{.entry = entry};
      if (entry.status() == api::OK) run.result = Json::parse(entry.result());
      if (run.result && (*run.result)["time"].is_string())
        run.time_ms = parse_event_time((*run.result)["time"].as_string());
      out.push_back(std::move(run));
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  size_t ok_runs(const std::string& function, const std::string& id) {
    size_t n = 0;
    for (const auto& run : runs(function, id)) n += run.entry.status() == api::OK ? 1 : 0;
    return n;
  }

  // Scheduled times of the OK runs, each once; fails the test if one fire
  // was delivered under two request ids (enqueued twice).
  std::vector<int64_t> fire_times(const std::vector<ScheduleRun>& all) {
    std::map<int64_t, std::set<std::string>> ids;
    for (const auto& run : all)
      if (run.entry.status() == api::OK) ids[run.time_ms].insert(run.entry.request_id());
    std::vector<int64_t> times;
    for (const auto& [time, request_ids] : ids) {
      EXPECT_EQ(request_ids.size(), 1u) << "the fire of " << time << " was enqueued "
                                        << request_ids.size() << " times";
      times.push_back(time);
    }
    return times;
  }

  std::string daemon_log() {
    std::ifstream in(daemon_log_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // Waits (without asserting anything about the speed) until the wall
  // clock has passed `unix_ms`.
  static void wait_until_wall_clock(int64_t unix_ms) {
    while (now_ms() < unix_ms) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // Downtime of a rate(2 seconds) schedule `id` of `function`: stopped
  // right after a run is in the history and well before the next fire is
  // due (so that no run is cut short and no history entry is lost), down
  // for over three periods, restarted. Returns the Unix ms sproutd went
  // down and came back.
  // `between_fires` false: stopped at once (a run may be cut short).
  std::pair<int64_t, int64_t> downtime(const std::string& function, const std::string& id,
                                       bool kill9, bool between_fires = true) {
    EXPECT_TRUE(eventually([&] { return ok_runs(function, id) >= 2; }))
        << "the schedule did not run twice before the downtime";
    // The history is written in the background (every 100 ms): a kill -9
    // loses what it has not written yet, so the newest run is given 500 ms
    // to reach the disk; the next fire is then still 500 ms away.
    EXPECT_TRUE(!between_fires || eventually([&] {
      auto all = runs(function, id);
      if (all.empty() || all.back().time_ms < 0) return false;
      const api::HistoryEntry& newest = all.back().entry;
      const int64_t ended = newest.start_unix_ms() + static_cast<int64_t>(newest.duration_us() / 1000);
      const int64_t now = now_ms();
      return now >= ended + 500 && now < all.back().time_ms + 1500;
    })) << "never saw a run end well between two fires";
    const int64_t down = now_ms();
    if (kill9) {
      kill_daemon();
    } else {
      EXPECT_EQ(stop_daemon(), 0) << "sproutd's exit status after SIGTERM";
    }
    wait_until_wall_clock(down + 7500);  // fires due while down: 3 or 4
    const int64_t up = now_ms();
    start_event_daemon();
    return {down, up};
  }

  // The catch-up after a downtime, for a schedule with `max_catch_up`
  // (nullopt: the default, 1): the missed fires form exactly one gap in the
  // run times, as long as the log says was skipped; the made-up fires ran
  // after the restart although their time lay in the downtime.
  void check_catch_up(bool kill9, std::optional<uint32_t> max_catch_up) {
    start_event_daemon();
    deploy_python("tick", kEchoHandler);
    // Overlap allowed: a cold start after the restart must not skip fires,
    // so that every gap in the times is the catch-up's.
    std::vector<std::string> add{"schedule", "add", "tick", "--expr", "rate(2 seconds)",
                                 "--id",     "catchup", "--allow-overlap"};
    if (max_catch_up) {
      add.push_back("--max-catch-up");
      add.push_back(std::to_string(*max_catch_up));
    }
    const Json added = cli_json(add);
    const int64_t created = added["schedule"]["created_unix_ms"].as_int();
    EXPECT_EQ(added["schedule"]["max_catch_up"].as_int(), max_catch_up.value_or(1));

    const auto window = downtime("tick", "catchup", kill9);
    const int64_t down = window.first;
    const int64_t up = window.second;
    ASSERT_TRUE(eventually([&] {
      auto all = runs("tick", "catchup");
      return !all.empty() && all.back().time_ms >= up + 6000;
    })) << "regular runs did not resume after the restart";

    const auto all = runs("tick", "catchup");
    for (const auto& run : all) {
      ASSERT_EQ(run.entry.status(), api::OK) << run.entry.error_message();
      ASSERT_GE(run.time_ms, 0) << run.entry.result();
      EXPECT_EQ((run.time_ms - created) % 2000, 0) << "off the rate's grid: " << run.time_ms;
    }
    const std::vector<int64_t> times = fire_times(all);
    // Exactly one gap: the fires skipped while down.
    std::vector<std::pair<int64_t, int64_t>> gaps;  // (last before, first after)
    for (size_t i = 1; i < times.size(); ++i)
      if (times[i] - times[i - 1] != 2000) gaps.emplace_back(times[i - 1], times[i]);
    std::string shown;  // the times, relative to the downtime, for failure messages
    for (const auto& run : all)
      shown += std::to_string(run.time_ms - down) + " (started " +
               std::to_string(run.entry.start_unix_ms() - down) + ") ";
    shown += "; up at " + std::to_string(up - down);
    SCOPED_TRACE("times in ms from the downtime: " + shown);
    ASSERT_EQ(gaps.size(), 1u) << "the run times should have one gap, the downtime's";
    const auto [before, after] = gaps[0];
    EXPECT_LT(before, down) << "the gap starts before the downtime";
    const int64_t skipped = (after - before) / 2000 - 1;
    EXPECT_GE(skipped, 1) << "over three periods down: at least one fire is skipped";

    // The log accounts for the same fires: skipped, made up.
    const uint32_t made_up = max_catch_up.value_or(1);
    std::smatch match;
    const std::string log = daemon_log();
    ASSERT_TRUE(std::regex_search(
        log, match, std::regex("schedule catchup: ([0-9]+) missed fire\\(s\\) skipped, ([0-9]+) made up")))
        << log;
    EXPECT_EQ(std::stoll(match[1]), skipped) << match[0];
    EXPECT_EQ(std::stoul(match[2]), made_up) << match[0];

    // The made-up fires: their time lies in the downtime, they ran after
    // the restart, at once and each once (fire_times checked that).
    std::vector<const ScheduleRun*> made_up_runs;
    for (const auto& run : all)
      if (run.time_ms > down && run.time_ms < after + 2000 * static_cast<int64_t>(made_up))
        made_up_runs.push_back(&run);
    ASSERT_EQ(made_up_runs.size(), made_up);
    for (const ScheduleRun* run : made_up_runs) {
      EXPECT_GE(run->entry.start_unix_ms(), up) << "a made-up fire runs after the restart";
      EXPECT_GE(run->entry.start_unix_ms() - run->time_ms, 2000)
          << "a made-up fire is at least a period late: its time lies in the downtime";
      std::cout << "[latency] catch-up run " << run->entry.start_unix_ms() - up
                << " ms after the restart began (fire due " << up - run->time_ms
                << " ms before it)\n";
    }
  }
};

// Provokes: `rate(2 seconds)` on a function that returns its event.
// Expected: runs with source SCHEDULE and the schedule's id, each given
// EventBridge's Scheduled Event for its scheduled time, on the rate's grid
// of 2 s, each starting within a few seconds of that time (never before);
// `schedule add/ls --json` show the created, next and last fire times.
TEST_F(ScheduleEventsTest, RateInSecondsFiresOnTimeWithTheScheduledEvent) {
  start_event_daemon();
  deploy_python("tick", kEchoHandler);
  const Json added =
      cli_json({"schedule", "add", "tick", "--expr", "rate(2 seconds)", "--id", "every-2s"});
  const Json& schedule = added["schedule"];
  EXPECT_EQ(schedule["id"].as_string(), "every-2s");
  EXPECT_EQ(schedule["function"].as_string(), "tick");
  EXPECT_EQ(schedule["expression"].as_string(), "rate(2 seconds)");
  EXPECT_TRUE(schedule["payload"].is_null()) << "no --payload: the Scheduled Event";
  EXPECT_EQ(schedule["time_zone"].as_string(), "UTC");
  EXPECT_FALSE(schedule["allow_overlap"].as_bool());
  EXPECT_EQ(schedule["max_catch_up"].as_int(), 1);
  EXPECT_EQ(schedule["last_fire_unix_ms"].as_int(), 0) << "never fired yet";
  const int64_t created = schedule["created_unix_ms"].as_int();
  EXPECT_EQ(created % 1000, 0) << "rates count from a whole second";
  EXPECT_EQ(schedule["next_fire_unix_ms"].as_int(), created + 2000);

  ASSERT_TRUE(eventually([&] { return ok_runs("tick", "every-2s") >= 5; }))
      << "fewer than five runs within the deadline";
  const auto all = runs("tick", "every-2s");
  std::vector<int64_t> latencies;
  for (const auto& run : all) {
    ASSERT_EQ(run.entry.status(), api::OK) << run.entry.error_message();
    ASSERT_TRUE(run.result) << run.entry.result();
    const Json& event = *run.result;
    EXPECT_EQ(event["version"].as_string(), "0");
    EXPECT_EQ(event["detail-type"].as_string(), "Scheduled Event");
    EXPECT_EQ(event["source"].as_string(), "aws.events");
    EXPECT_EQ(event["account"].as_string(), "000000000000");
    EXPECT_EQ(event["region"].as_string(), "us-east-1");
    ASSERT_EQ(event["resources"].size(), 1u) << event.dump();
    EXPECT_EQ(event["resources"][0].as_string(), std::string(kRuleArnPrefix) + "every-2s");
    EXPECT_TRUE(event["detail"].is_object() && event["detail"].size() == 0) << event.dump();
    EXPECT_EQ(event["id"].as_string().size(), 36u) << "a UUID per event: " << event.dump();
    ASSERT_GT(run.time_ms, 0) << "time is not ISO 8601 UTC: " << event.dump();
    EXPECT_EQ((run.time_ms - created) % 2000, 0) << "off the rate's grid";
    EXPECT_GT(run.time_ms, created) << "a rate's first fire is one period after its creation";
    const int64_t late = run.entry.start_unix_ms() - run.time_ms;
    EXPECT_GE(late, 0) << "ran before its scheduled time";
    EXPECT_LE(late, kOnTimeSlackMs) << "ran " << late << " ms after its scheduled time";
    latencies.push_back(late);
  }
  std::set<std::string> event_ids;
  for (const auto& run : all) event_ids.insert((*run.result)["id"].as_string());
  EXPECT_EQ(event_ids.size(), all.size()) << "every fire's event has an id of its own";
  // Consecutive fires 2 s apart; only the first (a cold start slower than
  // the period) may have made the next one skip.
  const std::vector<int64_t> times = fire_times(all);
  ASSERT_GE(times.size(), 5u);
  for (size_t i = 2; i < times.size(); ++i)
    EXPECT_EQ(times[i] - times[i - 1], 2000) << "fire " << i << " is not 2 s after the one before";
  std::cout << "[latency] schedule time -> handler start, median over " << latencies.size()
            << " runs: " << median(latencies) << " ms (max "
            << *std::max_element(latencies.begin(), latencies.end()) << ")\n";

  const int64_t newest = times.back();
  const Json listed = cli_json({"schedule", "ls"});
  ASSERT_EQ(listed["schedules"].size(), 1u) << listed.dump();
  const Json& shown = listed["schedules"][0];
  EXPECT_EQ(shown["id"].as_string(), "every-2s");
  EXPECT_GE(shown["last_fire_unix_ms"].as_int(), newest) << "last fire behind the history";
  EXPECT_GT(shown["next_fire_unix_ms"].as_int(), shown["last_fire_unix_ms"].as_int());
  EXPECT_EQ((shown["next_fire_unix_ms"].as_int() - created) % 2000, 0);
  EXPECT_FALSE(shown["next_fire"].as_string().empty());
  EXPECT_FALSE(shown["last_fire"].as_string().empty());

  CommandResult table = sprout({"schedule", "ls", "tick"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("NEXT_FIRE"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("LAST_FIRE"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("every-2s"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("rate(2 seconds)"), std::string::npos) << table.out;
}

// Provokes: a schedule with --payload, and a second one on the same
// function; then `schedule rm` of the first. Expected: every run of the
// first gets exactly the payload; after the removal it fires no more while
// the second keeps firing; removing it again is NOT_FOUND.
TEST_F(ScheduleEventsTest, CustomPayloadIsDeliveredAsGivenAndRmStopsTheFires) {
  start_event_daemon();
  deploy_python("tick", kEchoHandler);
  cli_json({"schedule", "add", "tick", "--expr", "rate(1 second)", "--id", "custom", "--payload",
            R"({"job": "report", "n": [1, 2]})"});
  cli_json({"schedule", "add", "tick", "--expr", "rate(1 second)", "--id", "witness"});
  ASSERT_TRUE(eventually([&] { return ok_runs("tick", "custom") >= 2; }));
  for (const auto& run : runs("tick", "custom")) {
    ASSERT_TRUE(run.result) << run.entry.result();
    EXPECT_EQ(run.result->members().size(), 2u) << run.result->dump();
    EXPECT_EQ((*run.result)["job"].as_string(), "report") << run.result->dump();
    ASSERT_EQ((*run.result)["n"].size(), 2u) << run.result->dump();
    EXPECT_EQ((*run.result)["n"][0].as_int(), 1);
    EXPECT_EQ((*run.result)["n"][1].as_int(), 2);
  }

  CommandResult removed = sprout({"schedule", "rm", "custom"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "removed schedule custom\n");
  const int64_t removed_at = now_ms();
  const Json listed = cli_json({"schedule", "ls"});
  ASSERT_EQ(listed["schedules"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["schedules"][0]["id"].as_string(), "witness");

  // The witness fires three more times: the removed one would have too.
  ASSERT_TRUE(eventually([&] {
    size_t later = 0;
    for (const auto& run : runs("tick", "witness")) later += run.time_ms > removed_at + 1000;
    return later >= 3;
  })) << "the other schedule stopped too";
  // A run already queued may still run; none may start after that.
  size_t late_runs = 0;
  for (const auto& run : runs("tick", "custom"))
    late_runs += run.entry.start_unix_ms() > removed_at + 1000 ? 1 : 0;
  EXPECT_EQ(late_runs, 0u) << "the removed schedule kept firing";

  CommandResult again = sprout({"schedule", "rm", "custom"});
  EXPECT_EQ(again.exit_code, 10 + api::NOT_FOUND);
  EXPECT_NE(again.err.find("NOT_FOUND"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("custom"), std::string::npos) << again.err;
}

// Provokes: deleting a function that has a schedule, then deploying a new
// function of that name. Expected: the schedule is gone with the function,
// and the new function is not run by it (its history stays empty while a
// schedule of another function fires).
TEST_F(ScheduleEventsTest, DeletingTheFunctionRemovesItsSchedules) {
  start_event_daemon();
  deploy_python("doomed", kEchoHandler);
  deploy_python("other", kEchoHandler);
  cli_json({"schedule", "add", "doomed", "--expr", "rate(1 second)", "--id", "doomed-tick"});
  cli_json({"schedule", "add", "other", "--expr", "rate(1 second)", "--id", "other-tick"});
  ASSERT_TRUE(eventually([&] { return ok_runs("doomed", "doomed-tick") >= 1; }));

  CommandResult deleted = sprout({"rm", "doomed"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  const Json listed = cli_json({"schedule", "ls"});
  ASSERT_EQ(listed["schedules"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["schedules"][0]["id"].as_string(), "other-tick");
  EXPECT_EQ(cli_json({"schedule", "ls", "doomed"})["schedules"].size(), 0u);

  deploy_python("doomed", kEchoHandler);
  const int64_t redeployed = now_ms();
  ASSERT_TRUE(eventually([&] {
    size_t later = 0;
    for (const auto& run : runs("other", "other-tick")) later += run.time_ms > redeployed + 1000;
    return later >= 3;
  })) << "the other function's schedule stopped";
  EXPECT_TRUE(history("doomed").empty()) << "the deleted function's schedule ran its successor";
}

// Provokes: a handler (4 s) slower than its schedule (1 s), once without
// and once with --allow-overlap. Expected: without, no run starts before
// the previous one ended (fires in between are skipped and logged); with,
// runs overlap.
TEST_F(ScheduleEventsTest, SlowRunsAreNotOverlappedUnlessAllowed) {
  start_event_daemon();
  deploy_python("serial", kEchoHandler, {"--timeout-ms", "20000"});
  deploy_python("parallel", kEchoHandler, {"--timeout-ms", "20000"});
  cli_json({"schedule", "add", "serial", "--expr", "rate(1 second)", "--id", "serial-tick",
            "--payload", R"({"sleep": 4})"});
  cli_json({"schedule", "add", "parallel", "--expr", "rate(1 second)", "--id", "parallel-tick",
            "--payload", R"({"sleep": 4})", "--allow-overlap"});
  ASSERT_TRUE(eventually([&] { return ok_runs("serial", "serial-tick") >= 3; }, std::chrono::seconds(90)))
      << "the slow schedule did not run three times";
  ASSERT_TRUE(eventually([&] { return ok_runs("parallel", "parallel-tick") >= 3; }));

  auto ended_ms = [](const api::HistoryEntry& e) {
    return e.start_unix_ms() + static_cast<int64_t>(e.duration_us() / 1000);
  };
  const auto serial = runs("serial", "serial-tick");
  for (const auto& run : serial) ASSERT_EQ(run.entry.status(), api::OK) << run.entry.error_message();
  for (size_t i = 1; i < serial.size(); ++i) {
    const auto& previous = serial[i - 1].entry;
    // 5 ms: the start is in whole ms and the duration is measured inside.
    EXPECT_GE(serial[i].entry.start_unix_ms() + 5, ended_ms(previous))
        << "run " << i << " started before run " << i - 1 << " ended";
  }
  EXPECT_NE(daemon_log().find("schedule serial-tick: 1 fire(s) skipped: the previous run has not "
                              "finished"),
            std::string::npos)
      << daemon_log();

  const auto parallel = runs("parallel", "parallel-tick");
  bool overlapped = false;
  for (size_t i = 1; i < parallel.size(); ++i)
    overlapped |= parallel[i].entry.start_unix_ms() < ended_ms(parallel[i - 1].entry);
  EXPECT_TRUE(overlapped) << "--allow-overlap: runs of a 4 s handler every second overlap";
}

// Provokes: SIGTERM, over three periods down, restart, for a schedule with
// the default max_catch_up (1). Expected: of the fires missed, exactly one
// is made up at the restart; the others are skipped; then regular runs.
TEST_F(ScheduleEventsTest, OneMissedFireIsMadeUpAfterAStop) { check_catch_up(false, std::nullopt); }

// Provokes: the same after kill -9. Expected: the same; nothing of the
// schedule's state is lost with the process.
TEST_F(ScheduleEventsTest, OneMissedFireIsMadeUpAfterAKill9) { check_catch_up(true, std::nullopt); }

// Provokes: the same with --max-catch-up 0. Expected: no missed fire is
// made up; the schedule goes on from its next fire.
TEST_F(ScheduleEventsTest, MaxCatchUpZeroMakesUpNoMissedFire) { check_catch_up(true, 0u); }

// Provokes: a downtime of a schedule whose runs (1.5 s) do not overlap
// (default), with the default catch-up. Expected: after the restart, the
// made-up run and the on-time one do not overlap either.
TEST_F(ScheduleEventsTest, MadeUpRunsDoNotOverlapUnlessAllowed) {
  start_event_daemon();
  deploy_python("slow", kEchoHandler, {"--env", "SLEEP=1.5", "--timeout-ms", "20000"});
  cli_json({"schedule", "add", "slow", "--expr", "rate(2 seconds)", "--id", "slow-tick"});
  const int64_t up = downtime("slow", "slow-tick", false, false).second;
  ASSERT_TRUE(eventually([&] {
    auto all = runs("slow", "slow-tick");
    return !all.empty() && all.back().time_ms >= up + 6000;
  })) << "regular runs did not resume after the restart";
  std::vector<api::HistoryEntry> after;
  for (const auto& run : runs("slow", "slow-tick"))
    if (run.entry.start_unix_ms() >= up) after.push_back(run.entry);
  std::sort(after.begin(), after.end(), [](const auto& a, const auto& b) {
    return a.start_unix_ms() < b.start_unix_ms();
  });
  for (size_t i = 1; i < after.size(); ++i) {
    const int64_t ended =
        after[i - 1].start_unix_ms() + static_cast<int64_t>(after[i - 1].duration_us() / 1000);
    EXPECT_GE(after[i].start_unix_ms() + 5, ended)
        << "run " << i << " after the restart started before run " << i - 1 << " ended: "
        << after[i - 1].result() << " ran " << after[i - 1].start_unix_ms() - up << " to "
        << ended - up << " ms after the restart, " << after[i].result() << " from "
        << after[i].start_unix_ms() - up << " ms";
  }
}

// Provokes: bad schedules through the CLI. Expected: each refused before
// anything is stored, with a message naming what is wrong and the exit
// code of its status (INVALID_ARGUMENT 20, NOT_FOUND 19; usage 2).
TEST_F(ScheduleEventsTest, BadSchedulesAreRefusedWithClearMessages) {
  start_event_daemon();
  deploy_python("tick", kEchoHandler);
  const std::vector<RefusedCall> cases = {
      {{"tick", "--expr", "rate(0 seconds)"}, 20, "rate"},
      {{"tick", "--expr", "rate(2 second)"}, 20, "rate"},
      {{"tick", "--expr", "rate(5 fortnights)"}, 20, "fortnights"},
      {{"tick", "--expr", "cron(0 2 * * * *)"}, 20, "?"},
      {{"tick", "--expr", "cron(61 2 * * ? *)"}, 20, "61"},
      {{"tick", "--expr", "every day"}, 20, "every day"},
      {{"tick", "--expr", "rate(2 seconds)", "--tz", "Mars/Olympus_Mons"}, 20, "Mars/Olympus_Mons"},
      {{"tick", "--expr", "rate(2 seconds)", "--tz", "../../etc/passwd"}, 20, "../../etc/passwd"},
      {{"tick", "--expr", "rate(2 seconds)", "--payload", "{not json"}, 20, "JSON"},
      {{"nope", "--expr", "rate(2 seconds)"}, 19, "nope"},
      {{"tick", "--expr", "rate(2 seconds)", "--id", "bad id!"}, 2, "--id"},
      {{"tick"}, 2, "--expr"},
  };
  const std::vector<CommandResult> results = expect_refused({"schedule", "add"}, cases);
  for (size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].exit_code == 20) {
      EXPECT_TRUE(results[i].err.starts_with("INVALID_ARGUMENT: ")) << results[i].err;
    }
  }
  // A duplicate id is refused too, and the first stays.
  cli_json({"schedule", "add", "tick", "--expr", "rate(1 hour)", "--id", "hourly"});
  CommandResult duplicate =
      sprout({"schedule", "add", "tick", "--expr", "rate(2 hours)", "--id", "hourly"});
  EXPECT_EQ(duplicate.exit_code, 20) << duplicate.err;
  EXPECT_NE(duplicate.err.find("hourly"), std::string::npos) << duplicate.err;
  const Json listed = cli_json({"schedule", "ls"});
  ASSERT_EQ(listed["schedules"].size(), 1u) << "only the good schedule is stored: " << listed.dump();
  EXPECT_EQ(listed["schedules"][0]["expression"].as_string(), "rate(1 hour)");
  // --json refusals are one JSON object with the status.
  CommandResult as_json = sprout({"schedule", "add", "tick", "--expr", "rate(0 seconds)", "--json"});
  EXPECT_EQ(as_json.exit_code, 20);
  auto refusal = Json::parse(as_json.out);
  ASSERT_TRUE(refusal) << as_json.out;
  EXPECT_EQ((*refusal)["status"].as_string(), "INVALID_ARGUMENT");
  EXPECT_FALSE((*refusal)["error"].as_string().empty());
}

}  // namespace
}  // namespace sprout::testing
