// The schedules: persisted in the event database (table schedule_entries of
// <state>/events.db) and fired by one thread that sleeps until the earliest
// next fire, then hands each run to the EventQueue as an event with source
// SCHEDULE and source_id = the schedule's id.
//
// Exactly-once recording: a fire's last/next times move inside the
// transaction that stores its event (EventQueue's same_transaction), so a
// crash either keeps both or neither; a schedule removed meanwhile refuses
// the event.
//
// Times: fire times are wall-clock (system_clock) instants, computed by
// ScheduleExpression in the schedule's zone; the thread waits on the steady
// clock but looks at the wall clock again at least every max_sleep, so a
// clock that jumps forward is noticed (the fires it passed are "missed",
// as after downtime) and one that jumps back far (over an hour behind the
// last fire) recomputes the next fire from the new time.
//
// Missed fires: a fire found due more than `on_time_window` late was missed
// (sproutd was down, the clock jumped). Of a schedule's missed fires, the
// latest max_catch_up (unset: 1; 0: none) are made up, the others skipped
// and counted; the fire that is on time always runs. With allow_overlap,
// the runs made up at one moment are enqueued together; without it, they
// run one after the other: the earliest is enqueued and the rest stay due
// (next_fire stops at the second, in memory and in the database) until it
// has finished. The on-time fire then runs last, a little late.
//
// Overlap: unless allow_overlap, a schedule whose previous run has not
// finished (EventQueue's `finished` callback, which covers retries) skips
// the fires that come due meanwhile, counted and logged; the made-up runs
// it still owes wait instead. Nothing of a run in flight survives a
// restart: after one, the next fire runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "events/database.h"
#include "events/event_sink.h"
#include "events/schedule/schedule_expression.h"
#include "events/schedule/scheduled_event.h"
#include "events/schedule/time_zone.h"

namespace sprout::events {

struct ScheduleRunnerOptions {
  std::string database_path;  // <state>/events.db
  ScheduledEventOrigin origin;
  // Whether a function of that name is deployed (add refuses others).
  std::function<bool(const std::string&)> function_exists;
  // The wall clock; tests inject their own.
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
  std::string zoneinfo_dir = std::string(kDefaultZoneInfoDir);
  std::chrono::seconds on_time_window{60};
  std::chrono::milliseconds max_sleep{30000};
};

// What add answers: status OK with the stored schedule, INVALID_ARGUMENT
// (expression, zone, id, payload, duplicate id), NOT_FOUND (no such
// function) or INTERNAL (the database), with `error` saying why.
struct ScheduleAnswer {
  api::Status status = api::OK;
  std::string error;
  api::Schedule schedule;
};

struct ScheduleRunnerStats {
  uint64_t fired = 0;            // events enqueued
  uint64_t skipped_overlap = 0;  // fires skipped: the previous run had not finished
  uint64_t skipped_missed = 0;   // missed fires beyond max_catch_up
  uint64_t failed = 0;           // fires the queue refused (full, shutting down, ...)
};

class ScheduleRunner {
 public:
  // Opens its own connection to the database, creates the table, loads the
  // schedules. `queue` must outlive the runner.
  static Result<std::unique_ptr<ScheduleRunner>> open(ScheduleRunnerOptions options,
                                                      EventQueue& queue);
  ~ScheduleRunner();  // stops the thread
  ScheduleRunner(const ScheduleRunner&) = delete;
  ScheduleRunner& operator=(const ScheduleRunner&) = delete;

  // Validates and persists `schedule` (id empty: a generated one); the
  // fields set by sproutd are ignored and filled in.
  ScheduleAnswer add(api::Schedule schedule);
  // Ordered by id; `function` empty: all.
  std::vector<api::Schedule> list(const std::string& function) const;
  // false: no such schedule.
  Result<bool> remove(const std::string& id);
  // A function was deleted: its schedules go too. Returns how many.
  Result<size_t> remove_function(const std::string& function);

  // The thread: fires due schedules until stop(). Idempotent.
  void start();
  void stop();

  // Fires what is due at now() once and returns the number of events
  // enqueued; what the thread does each time it wakes (tests with an
  // injected clock call it without start()).
  size_t run_due();

  ScheduleRunnerStats stats() const;

 private:
  struct Entry {
    api::Schedule schedule;
    std::optional<ScheduleExpression> expression;  // none: unreadable (logged), never fires
    std::shared_ptr<const TimeZone> zone;
    // Runs enqueued and not yet finished; shared with their callbacks.
    std::shared_ptr<std::atomic<int>> running = std::make_shared<std::atomic<int>>(0);
    // Without allow_overlap: fires made up together that still wait for
    // the run in progress (they are due, and must not be skipped).
    bool owes_runs = false;
  };
  struct Run {
    std::string id;
    std::string function;
    std::string payload;  // empty: a Scheduled Event
    Instant time;
    std::optional<Instant> next_after;  // next_fire once this run is recorded (none: never)
    std::shared_ptr<std::atomic<int>> running;
  };

  ScheduleRunner(ScheduleRunnerOptions options, EventQueue& queue, std::unique_ptr<Database> db);
  Result<void> load();
  std::optional<Instant> next_fire(const Entry& entry, Instant after) const;
  // Under mutex_: decides the runs of one due entry and advances it.
  std::vector<Run> plan_runs(Entry& entry, Instant now);
  // Under mutex_: the next fire in memory and in the database (0: none).
  Result<void> store_next_fire(const std::string& id, Instant next);
  Result<void> store_next_fire_ms(const std::string& id, int64_t next_ms);
  bool fire(const Run& run);
  void thread_main();

  const ScheduleRunnerOptions options_;
  EventQueue& queue_;

  std::mutex tick_mutex_;  // one run_due at a time
  mutable std::mutex mutex_;  // everything below
  std::unique_ptr<Database> db_;
  std::map<std::string, Entry> entries_;
  ScheduleRunnerStats stats_;
  std::condition_variable wake_;
  bool changed_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sprout::events
