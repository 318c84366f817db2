#include "events/schedule/schedule_runner.h"

#include <algorithm>
#include <deque>

#include "base/log.h"
#include "events/source_id.h"
#include "http/json.h"

namespace sprout::events {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS schedule_entries (
  id TEXT PRIMARY KEY,
  function TEXT NOT NULL,
  expression TEXT NOT NULL,
  payload BLOB NOT NULL,
  time_zone TEXT NOT NULL,
  allow_overlap INTEGER NOT NULL,
  max_catch_up INTEGER,
  created_unix_ms INTEGER NOT NULL,
  next_fire_unix_ms INTEGER NOT NULL,
  last_fire_unix_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS schedule_entries_by_function ON schedule_entries (function);
)sql";

constexpr size_t kMaxPayloadBytes = 256 * 1024;  // Lambda's limit for an async payload
constexpr uint32_t kMaxCatchUp = 1000;
// Enumerating the fires missed in a very long downtime stops here; the
// older ones are skipped without being counted one by one.
constexpr uint64_t kMaxMissedCounted = 1000000;
// A clock that moved back less than this just delays the next fire.
constexpr auto kClockJumpTolerance = std::chrono::hours(1);

int64_t to_ms(Instant t) { return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count(); }
int64_t to_ms(std::optional<Instant> t) { return t ? to_ms(*t) : 0; }
Instant from_ms(int64_t ms) { return Instant{std::chrono::floor<seconds>(milliseconds(ms))}; }

ScheduleAnswer refuse(api::Status status, std::string error) {
  ScheduleAnswer answer;
  answer.status = status;
  answer.error = std::move(error);
  return answer;
}

}  // namespace

Result<std::unique_ptr<ScheduleRunner>> ScheduleRunner::open(ScheduleRunnerOptions options,
                                                             EventQueue& queue) {
  auto db = Database::open(options.database_path, Durability::kFull);
  if (!db) return std::unexpected(db.error());
  if (auto r = (*db)->exec(kCreateTable); !r) return std::unexpected(r.error());
  std::unique_ptr<ScheduleRunner> runner(
      new ScheduleRunner(std::move(options), queue, std::move(*db)));
  if (auto r = runner->load(); !r) return std::unexpected(r.error());
  return runner;
}

ScheduleRunner::ScheduleRunner(ScheduleRunnerOptions options, EventQueue& queue,
                               std::unique_ptr<Database> db)
    : options_(std::move(options)), queue_(queue), db_(std::move(db)) {}

ScheduleRunner::~ScheduleRunner() { stop(); }

Result<void> ScheduleRunner::load() {
  std::lock_guard lock(mutex_);
  auto select = db_->prepare(
      "SELECT id, function, expression, payload, time_zone, allow_overlap, max_catch_up, "
      "created_unix_ms, next_fire_unix_ms, last_fire_unix_ms FROM schedule_entries");
  if (!select) return std::unexpected(select.error());
  for (;;) {
    auto row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    Entry entry;
    api::Schedule& s = entry.schedule;
    s.set_id(select->column_text(0));
    s.set_function(select->column_text(1));
    s.set_expression(select->column_text(2));
    s.set_payload(select->column_text(3));
    s.set_time_zone(select->column_text(4));
    s.set_allow_overlap(select->column_int(5) != 0);
    if (!select->column_is_null(6)) s.set_max_catch_up(static_cast<uint32_t>(select->column_int(6)));
    s.set_created_unix_ms(select->column_int(7));
    s.set_next_fire_unix_ms(select->column_int(8));
    s.set_last_fire_unix_ms(select->column_int(9));
    // A schedule that no longer reads (a zone file gone with a tzdata
    // update) stays listed, so that it can be removed, but never fires.
    auto expression = ScheduleExpression::parse(s.expression());
    auto zone = TimeZone::load(s.time_zone(), options_.zoneinfo_dir);
    if (expression && zone) {
      entry.expression = std::move(*expression);
      entry.zone = std::move(*zone);
    } else {
      log_line(LogLevel::kError, "schedule " + s.id() + " will not fire: " +
                                     (expression ? zone.error() : expression.error()).message());
    }
    entries_.emplace(s.id(), std::move(entry));
  }
  return {};
}

std::optional<Instant> ScheduleRunner::next_fire(const Entry& entry, Instant after) const {
  if (!entry.expression) return std::nullopt;
  // Rates count from the schedule's creation, in whole seconds.
  return entry.expression->next_fire(after, *entry.zone,
                                     from_ms(entry.schedule.created_unix_ms()));
}

ScheduleAnswer ScheduleRunner::add(api::Schedule schedule) {
  if (schedule.id().empty()) schedule.set_id(random_event_id());
  if (!is_valid_source_id(schedule.id()))
    return refuse(api::INVALID_ARGUMENT, "schedule id \"" + schedule.id().substr(0, 80) +
                                             "\" must be 1 to 64 of a-z A-Z 0-9 _ -");
  if (schedule.function().empty()) return refuse(api::INVALID_ARGUMENT, "no function given");
  if (!options_.function_exists || !options_.function_exists(schedule.function()))
    return refuse(api::NOT_FOUND, "function " + schedule.function() + " does not exist");
  auto expression = ScheduleExpression::parse(schedule.expression());
  if (!expression) return refuse(api::INVALID_ARGUMENT, expression.error().message());
  auto zone = TimeZone::load(schedule.time_zone(), options_.zoneinfo_dir);
  if (!zone) return refuse(api::INVALID_ARGUMENT, zone.error().message());
  if (schedule.payload().size() > kMaxPayloadBytes)
    return refuse(api::INVALID_ARGUMENT, "payload is larger than 256 KiB");
  if (!schedule.payload().empty()) {
    std::string why;
    if (!http::parse_json(schedule.payload(), &why))
      return refuse(api::INVALID_ARGUMENT, "payload is not valid JSON: " + why);
  }
  if (schedule.has_max_catch_up() && schedule.max_catch_up() > kMaxCatchUp)
    return refuse(api::INVALID_ARGUMENT,
                  "max_catch_up must be at most " + std::to_string(kMaxCatchUp));

  const Instant now = std::chrono::floor<seconds>(options_.now());
  Entry entry;
  entry.expression = std::move(*expression);
  entry.zone = std::move(*zone);
  schedule.set_created_unix_ms(to_ms(now));
  schedule.set_last_fire_unix_ms(0);
  entry.schedule = schedule;
  const auto first = next_fire(entry, now);
  if (!first) return refuse(api::INVALID_ARGUMENT, "expression " + schedule.expression() +
                                                       " never fires after now");
  entry.schedule.set_next_fire_unix_ms(to_ms(*first));
  const api::Schedule& s = entry.schedule;

  std::lock_guard lock(mutex_);
  if (entries_.contains(s.id()))
    return refuse(api::INVALID_ARGUMENT, "schedule id " + s.id() + " already exists");
  auto insert = db_->prepare(
      "INSERT INTO schedule_entries (id, function, expression, payload, time_zone, "
      "allow_overlap, max_catch_up, created_unix_ms, next_fire_unix_ms, last_fire_unix_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return refuse(api::INTERNAL, insert.error().message());
  insert->bind(1, s.id())
      .bind(2, s.function())
      .bind(3, s.expression())
      .bind_blob(4, s.payload())
      .bind(5, s.time_zone())
      .bind(6, int64_t{s.allow_overlap() ? 1 : 0})
      .bind(8, s.created_unix_ms())
      .bind(9, s.next_fire_unix_ms())
      .bind(10, s.last_fire_unix_ms());
  if (s.has_max_catch_up()) {
    insert->bind(7, int64_t{s.max_catch_up()});
  } else {
    insert->bind_null(7);
  }
  if (auto r = insert->run(); !r) return refuse(api::INTERNAL, r.error().message());
  ScheduleAnswer answer;
  answer.schedule = s;
  entries_.emplace(s.id(), std::move(entry));
  changed_ = true;
  wake_.notify_all();
  return answer;
}

std::vector<api::Schedule> ScheduleRunner::list(const std::string& function) const {
  std::lock_guard lock(mutex_);
  std::vector<api::Schedule> out;
  for (const auto& [id, entry] : entries_) {
    if (function.empty() || entry.schedule.function() == function) out.push_back(entry.schedule);
  }
  return out;
}

Result<bool> ScheduleRunner::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto erase = db_->prepare("DELETE FROM schedule_entries WHERE id = ?");
  if (!erase) return std::unexpected(erase.error());
  if (auto r = erase->bind(1, id).run(); !r) return std::unexpected(r.error());
  const bool existed = entries_.erase(id) > 0 || db_->changes() > 0;
  changed_ = true;
  wake_.notify_all();
  return existed;
}

Result<size_t> ScheduleRunner::remove_function(const std::string& function) {
  std::lock_guard lock(mutex_);
  auto erase = db_->prepare("DELETE FROM schedule_entries WHERE function = ?");
  if (!erase) return std::unexpected(erase.error());
  if (auto r = erase->bind(1, function).run(); !r) return std::unexpected(r.error());
  const size_t removed = std::erase_if(
      entries_, [&](const auto& item) { return item.second.schedule.function() == function; });
  changed_ = true;
  wake_.notify_all();
  return removed;
}

Result<void> ScheduleRunner::store_next_fire(const std::string& id, Instant next) {
  return store_next_fire_ms(id, to_ms(next));
}

Result<void> ScheduleRunner::store_next_fire_ms(const std::string& id, int64_t next_ms) {
  auto update = db_->prepare("UPDATE schedule_entries SET next_fire_unix_ms = ? WHERE id = ?");
  if (!update) return std::unexpected(update.error());
  if (auto it = entries_.find(id); it != entries_.end())
    it->second.schedule.set_next_fire_unix_ms(next_ms);
  return update->bind(1, next_ms).bind(2, id).run();
}

std::vector<ScheduleRunner::Run> ScheduleRunner::plan_runs(Entry& entry, Instant now) {
  api::Schedule& s = entry.schedule;
  if (!entry.expression || s.next_fire_unix_ms() == 0) return {};

  // A clock that went back far: the stored next fire lies beyond where the
  // clock now says the schedule is; start again from the new time.
  if (from_ms(s.next_fire_unix_ms()) - now > kClockJumpTolerance) {
    const auto from_now = next_fire(entry, now);
    if (from_now && from_ms(s.next_fire_unix_ms()) > *from_now + kClockJumpTolerance) {
      log_line(LogLevel::kWarning, "schedule " + s.id() +
                                       ": the clock went back; next fire recomputed from now");
      if (auto r = store_next_fire(s.id(), *from_now); !r)
        log_line(LogLevel::kError, "schedule " + s.id() + ": " + r.error().message());
    }
  }
  if (from_ms(s.next_fire_unix_ms()) > now) return {};
  // Owed made-up runs wait for the one in progress, and are counted once
  // (below) when they are planned, not on every pass while they wait.
  if (entry.owes_runs && !s.allow_overlap() && entry.running->load() > 0) return {};
  entry.owes_runs = false;

  // The fires due by now: keep the latest max_catch_up + 1, count them all.
  const uint32_t catch_up = s.has_max_catch_up() ? s.max_catch_up() : 1;
  std::deque<Instant> latest;
  uint64_t due = 0;
  std::optional<Instant> t = from_ms(s.next_fire_unix_ms());
  while (t && *t <= now) {
    if (due == kMaxMissedCounted) {
      // Decades of seconds: jump to the last day rather than count on.
      t = next_fire(entry, now - std::chrono::days(1));
      if (!t || *t > now) break;
    }
    latest.push_back(*t);
    if (latest.size() > catch_up + 1) latest.pop_front();
    ++due;
    t = next_fire(entry, *t);
  }
  const std::optional<Instant> next_after_now = t;

  const bool on_time = !latest.empty() && now - latest.back() < options_.on_time_window;
  const uint64_t missed = due - (on_time ? 1 : 0);
  const uint64_t made_up = std::min<uint64_t>(missed, catch_up);
  while (latest.size() > made_up + (on_time ? 1 : 0)) latest.pop_front();
  if (missed > made_up) {
    stats_.skipped_missed += missed - made_up;
    log_line(LogLevel::kWarning, "schedule " + s.id() + ": " + std::to_string(missed - made_up) +
                                     " missed fire(s) skipped, " + std::to_string(made_up) +
                                     " made up (max_catch_up " + std::to_string(catch_up) + ")");
  }
  if (!latest.empty() && !s.allow_overlap() && entry.running->load() > 0) {
    stats_.skipped_overlap += latest.size();
    log_line(LogLevel::kWarning, "schedule " + s.id() + ": " + std::to_string(latest.size()) +
                                     " fire(s) skipped: the previous run has not finished");
    latest.clear();
  }
  // Made-up runs and the on-time fire would all start at once: without
  // allow_overlap only the earliest is planned; the schedule's next fire
  // stays at the second until it has finished.
  std::optional<Instant> next_after_planned = next_after_now;
  if (!s.allow_overlap() && latest.size() > 1) {
    next_after_planned = latest[1];
    latest.resize(1);
    entry.owes_runs = true;
  }

  std::vector<Run> runs;
  for (size_t i = 0; i < latest.size(); ++i) {
    Run run;
    run.id = s.id();
    run.function = s.function();
    run.payload = s.payload();
    run.time = latest[i];
    run.next_after = i + 1 < latest.size() ? std::optional(latest[i + 1]) : next_after_planned;
    run.running = entry.running;
    runs.push_back(std::move(run));
  }
  entry.running->fetch_add(static_cast<int>(runs.size()));
  // Memory moves on now, so the runs are not planned twice; the database
  // moves with each stored event (or below, when there is none).
  if (runs.empty()) {
    if (auto r = store_next_fire_ms(s.id(), to_ms(next_after_now)); !r)
      log_line(LogLevel::kError, "schedule " + s.id() + ": " + r.error().message());
  } else {
    s.set_next_fire_unix_ms(to_ms(next_after_planned));
  }
  return runs;
}

bool ScheduleRunner::fire(const Run& run) {
  const std::string payload =
      run.payload.empty()
          ? scheduled_event_json(options_.origin, run.id, run.time, random_event_id())
          : run.payload;
  // The callback may come from the queue's thread, or never for a refused
  // event: whichever of it and the refusal below comes first counts.
  auto counted = std::make_shared<std::atomic<bool>>(false);
  auto finish = [running = run.running, counted] {
    if (!counted->exchange(true)) running->fetch_sub(1);
  };
  const int64_t fire_ms = to_ms(run.time);
  const int64_t next_ms = to_ms(run.next_after);
  const Enqueued enqueued = queue_.enqueue(
      NewEvent{.function = run.function,
               .payload = payload,
               .source = api::SCHEDULE,
               .source_id = run.id},
      [&](Database& db) -> Result<void> {
        auto update = db.prepare(
            "UPDATE schedule_entries SET last_fire_unix_ms = ?, next_fire_unix_ms = ? "
            "WHERE id = ?");
        if (!update) return std::unexpected(update.error());
        if (auto r = update->bind(1, fire_ms).bind(2, next_ms).bind(3, run.id).run(); !r)
          return r;
        if (db.changes() == 0)
          return plain_error("record the fire of schedule " + run.id, "the schedule was removed");
        return {};
      },
      [finish](const api::InvokeResponse&) { finish(); });

  std::lock_guard lock(mutex_);
  auto it = entries_.find(run.id);
  if (enqueued.status == api::OK) {
    ++stats_.fired;
    if (it != entries_.end()) it->second.schedule.set_last_fire_unix_ms(fire_ms);
    return true;
  }
  finish();
  ++stats_.failed;
  log_line(LogLevel::kWarning, "schedule " + run.id + ": the fire of " + iso8601_utc(run.time) +
                                   " was not enqueued: " + api::Status_Name(enqueued.status) +
                                   (enqueued.error.empty() ? "" : " (" + enqueued.error + ")"));
  // The fire is not retried: a full queue would be asked again and again.
  // The schedule moves past it, in memory at once; in the database too,
  // except when the queue is closing (sproutd stopping): then the fire
  // stays owed and is made up after the restart like any missed one.
  if (it != entries_.end() && enqueued.status != api::UNAVAILABLE) {
    if (auto r = store_next_fire_ms(run.id, next_ms); !r)
      log_line(LogLevel::kError, "schedule " + run.id + ": " + r.error().message());
  }
  return false;
}

size_t ScheduleRunner::run_due() {
  std::lock_guard tick(tick_mutex_);
  std::vector<Run> runs;
  {
    std::lock_guard lock(mutex_);
    const Instant now = std::chrono::floor<seconds>(options_.now());
    for (auto& [id, entry] : entries_) {
      auto planned = plan_runs(entry, now);
      std::move(planned.begin(), planned.end(), std::back_inserter(runs));
    }
  }
  // The queue is called without the lock: it writes the database and may
  // call `finished` at once.
  size_t fired = 0;
  for (const Run& run : runs) fired += fire(run) ? 1 : 0;
  return fired;
}

void ScheduleRunner::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { thread_main(); });
}

void ScheduleRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    wake_.notify_all();
  }
  thread_.join();
  thread_ = std::thread();
}

void ScheduleRunner::thread_main() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    run_due();
    lock.lock();
    if (stopping_) break;
    // Sleep on the steady clock until the earliest fire by the wall clock,
    // but no longer than max_sleep, so that a wall clock that jumps is
    // looked at again soon.
    std::optional<int64_t> earliest_ms;
    for (const auto& [id, entry] : entries_) {
      const int64_t next = entry.schedule.next_fire_unix_ms();
      if (entry.expression && next > 0 && (!earliest_ms || next < *earliest_ms)) earliest_ms = next;
    }
    auto wait = options_.max_sleep;
    if (earliest_ms) {
      const int64_t now_ms =
          std::chrono::duration_cast<milliseconds>(options_.now().time_since_epoch()).count();
      wait = std::clamp(milliseconds(*earliest_ms - now_ms), milliseconds(1), options_.max_sleep);
    }
    wake_.wait_for(lock, wait, [this] { return stopping_ || changed_; });
    changed_ = false;
  }
}

ScheduleRunnerStats ScheduleRunner::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace sprout::events
