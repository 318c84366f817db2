#include "events/async/async_queue.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <utility>

#include "base/log.h"
#include "events/async/bounded_response.h"
#include "events/async/destination_record.h"
#include "events/async/retry_policy.h"
#include "events/database.h"

namespace sprout::events::async {
namespace {

// Longer ids are refused before any lookup: ours are 36 characters.
constexpr size_t kMaxRequestIdLength = 128;
constexpr uint32_t kDefaultDeadLetterLimit = 100;
// The dispatcher looks at the queue at least this often even when told
// nothing (a safety net; every change that matters wakes it).
constexpr int64_t kIdleWaitMs = 60'000;
// After a database error the dispatcher waits this long before trying again.
constexpr int64_t kDatabaseErrorWaitMs = 1'000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS async_events (
  request_id      TEXT PRIMARY KEY,     -- also every attempt's aws_request_id
  function        TEXT NOT NULL,
  payload         BLOB NOT NULL,
  source          INTEGER NOT NULL,     -- api.InvocationSource
  source_id       TEXT NOT NULL,
  enqueued_ms     INTEGER NOT NULL,     -- Unix ms; the age limit counts from it
  attempts        INTEGER NOT NULL DEFAULT 0,  -- counted against the retries
  throttles       INTEGER NOT NULL DEFAULT 0,  -- in a row, for the backoff
  next_attempt_ms INTEGER NOT NULL,
  last_status     INTEGER NOT NULL DEFAULT 0,  -- api.Status; 0: never answered
  last_error      TEXT NOT NULL DEFAULT '',
  last_response   BLOB,                        -- api.InvokeResponse (bounded); NULL: none
  -- 1: the event carries another event's destination record; when it fails
  -- it goes to the dead letters, never to another destination (no loops).
  is_destination_record INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS async_events_due ON async_events (next_attempt_ms);
CREATE INDEX IF NOT EXISTS async_events_function ON async_events (function);
CREATE TABLE IF NOT EXISTS async_dead_letters (
  request_id  TEXT PRIMARY KEY,
  function    TEXT NOT NULL,
  payload     BLOB NOT NULL,
  source      INTEGER NOT NULL,
  source_id   TEXT NOT NULL,
  last_status INTEGER NOT NULL,
  last_error  TEXT NOT NULL,
  attempts    INTEGER NOT NULL,
  enqueued_ms INTEGER NOT NULL,
  failed_ms   INTEGER NOT NULL,
  reason      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS async_dead_letters_function
  ON async_dead_letters (function, failed_ms);
CREATE TABLE IF NOT EXISTS async_results (
  request_id  TEXT PRIMARY KEY,
  response    BLOB NOT NULL,                   -- api.InvokeResponse
  finished_ms INTEGER NOT NULL
);
)sql";

constexpr const char* kEventColumns =
    "request_id, function, payload, source, source_id, enqueued_ms, attempts, throttles, "
    "last_response, is_destination_record";

// "8f507cfc-1a2b-4697-b07a-ac58fc914c95": an RFC 4122 version 4 UUID, as
// Lambda's request ids. Not a secret, only unique.
std::string new_request_id() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  uint64_t high = generator();
  uint64_t low = generator();
  high = (high & 0xffffffffffff0fffULL) | 0x4000ULL;
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char text[40];
  snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(high >> 32),
           static_cast<unsigned>((high >> 16) & 0xffff), static_cast<unsigned>(high & 0xffff),
           static_cast<unsigned>(low >> 48),
           static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text;
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A queued event as the dispatcher carries it through one attempt.
struct QueuedEvent {
  std::string request_id;
  std::string function;
  std::string payload;
  api::InvocationSource source = api::ASYNC;
  std::string source_id;
  EventProgress progress;
  std::optional<api::InvokeResponse> last_response;
  bool is_destination_record = false;
};

QueuedEvent read_event(const Statement& row) {
  QueuedEvent event;
  event.request_id = row.column_text(0);
  event.function = row.column_text(1);
  event.payload = row.column_text(2);
  event.source = static_cast<api::InvocationSource>(row.column_int(3));
  event.source_id = row.column_text(4);
  event.progress.enqueued_unix_ms = row.column_int(5);
  event.progress.attempts = static_cast<uint32_t>(row.column_int(6));
  event.progress.throttles = static_cast<uint32_t>(row.column_int(7));
  if (!row.column_is_null(8)) {
    api::InvokeResponse response;
    if (response.ParseFromString(row.column_text(8))) event.last_response = std::move(response);
  }
  event.is_destination_record = row.column_int(9) != 0;
  return event;
}

api::GetResultResponse finished_result(const api::InvokeResponse& response) {
  api::GetResultResponse result;
  result.set_done(true);
  *result.mutable_result() = response;
  return result;
}

api::InvokeResponse failure(api::Status status, std::string detail, const std::string& request_id) {
  api::InvokeResponse response;
  response.set_status(status);
  response.set_detail(std::move(detail));
  response.set_request_id(request_id);
  return response;
}

Result<void> insert_event(Database& db, const std::string& request_id, const std::string& function,
                          const std::string& payload, api::InvocationSource source,
                          const std::string& source_id, int64_t now_ms,
                          bool is_destination_record = false) {
  auto insert = db.prepare(
      "INSERT INTO async_events (request_id, function, payload, source, source_id, enqueued_ms, "
      "next_attempt_ms, is_destination_record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
  return insert->bind(1, request_id)
      .bind(2, function)
      .bind_blob(3, payload)
      .bind(4, int64_t{source})
      .bind(5, source_id)
      .bind(6, now_ms)
      .bind(7, now_ms)
      .bind(8, int64_t{is_destination_record ? 1 : 0})
      .run();
}

// Keeps `response`, bounded (bounded_response.h), as the event's final answer
// and drops the oldest beyond `kept` (rowids grow with each insert, so the
// smallest are the oldest).
Result<void> store_result(Database& db, const std::string& request_id,
                          const api::InvokeResponse& response, int64_t now_ms, uint64_t kept) {
  auto insert = db.prepare(
      "INSERT OR REPLACE INTO async_results (request_id, response, finished_ms) VALUES (?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
  const std::string stored = bounded_response(response).SerializeAsString();
  if (auto r = insert->bind(1, request_id).bind_blob(2, stored).bind(3, now_ms).run(); !r)
    return r;
  auto trim = db.prepare(
      "DELETE FROM async_results WHERE rowid <= (SELECT MAX(rowid) FROM async_results) - ?");
  if (!trim) return std::unexpected(trim.error());
  return trim->bind(1, static_cast<int64_t>(kept)).run();
}

// Drops the oldest dead letters of `function` beyond `kept`; how many.
Result<uint64_t> trim_dead_letters(Database& db, const std::string& function, uint64_t kept) {
  auto trim = db.prepare(
      "DELETE FROM async_dead_letters WHERE rowid IN (SELECT rowid FROM async_dead_letters "
      "WHERE function = ? ORDER BY failed_ms DESC, rowid DESC LIMIT -1 OFFSET ?)");
  if (!trim) return std::unexpected(trim.error());
  if (auto r = trim->bind(1, function).bind(2, static_cast<int64_t>(kept)).run(); !r)
    return std::unexpected(r.error());
  return static_cast<uint64_t>(db.changes());
}

// A database made before async_events had is_destination_record gets it.
Result<void> add_missing_columns(Database& db) {
  auto has = db.prepare(
      "SELECT 1 FROM pragma_table_info('async_events') WHERE name = 'is_destination_record'");
  if (!has) return std::unexpected(has.error());
  auto row = has->step();
  if (!row) return std::unexpected(row.error());
  if (*row) return {};
  return db.exec(
      "ALTER TABLE async_events ADD COLUMN is_destination_record INTEGER NOT NULL DEFAULT 0");
}

Result<bool> delete_event(Database& db, const std::string& request_id) {
  auto erase = db.prepare("DELETE FROM async_events WHERE request_id = ?");
  if (!erase) return std::unexpected(erase.error());
  if (auto r = erase->bind(1, request_id).run(); !r) return std::unexpected(r.error());
  return db.changes() > 0;
}

}  // namespace

struct AsyncQueueCore {
  AsyncQueueCore(AsyncQueueOptions options_in, Invoker& invoker_in, std::unique_ptr<Database> db_in)
      : options(std::move(options_in)), invoker(invoker_in), db(std::move(db_in)) {}

  int64_t now() const { return options.now_ms ? options.now_ms() : system_now_ms(); }

  // Calls owed once the mutex is released: answers write to client
  // connections and `finished` callbacks may enqueue again.
  using Deferred = std::vector<std::function<void()>>;

  // Hands `response` to whoever waits for the end of `request_id`.
  void collect_final(const std::string& request_id, const api::InvokeResponse& response,
                     Deferred& deferred) {
    if (auto it = finished.find(request_id); it != finished.end()) {
      deferred.emplace_back([callback = std::move(it->second), response] { callback(response); });
      finished.erase(it);
    }
    if (auto it = waits.find(request_id); it != waits.end()) {
      const api::GetResultResponse result = finished_result(response);
      for (auto& [id, answer] : it->second)
        deferred.emplace_back([answer = std::move(answer), result] { answer(result); });
      waiting -= static_cast<uint32_t>(it->second.size());
      waits.erase(it);
    }
  }

  void poke() {
    poked = true;
    wakeup.notify_all();
  }

  const AsyncQueueOptions options;
  Invoker& invoker;

  mutable std::mutex mutex;  // guards everything below
  std::condition_variable wakeup;
  std::unique_ptr<Database> db;
  bool started = false;
  bool stopping = false;
  bool poked = false;
  uint64_t queued = 0;
  std::set<std::string> in_flight;
  std::map<std::string, std::function<void(const api::InvokeResponse&)>> finished;
  std::map<std::string, std::map<uint64_t, AsyncQueue::ResultAnswer>> waits;
  uint64_t next_wait_id = 1;
  uint32_t waiting = 0;
  uint64_t dead_letters_dropped = 0;
};

namespace {

void run_deferred(const AsyncQueueCore::Deferred& deferred) {
  for (const auto& call : deferred) call();
}

// Applies `step` to the event's row (mutex held). False: the row is gone
// (forget_function dropped it while the attempt ran), nothing was written.
// `response`: this attempt's answer; nullopt when the event was failed
// without a run. `destination`: the on-failure function to send the record
// to, or empty for the dead-letter store.
Result<bool> apply_step(AsyncQueueCore& core, const QueuedEvent& event, const NextStep& step,
                        const std::optional<api::InvokeResponse>& response,
                        const std::string& destination, AsyncQueueCore::Deferred& deferred) {
  Database& db = *core.db;
  const int64_t now = core.now();
  auto tx = db.begin();
  if (!tx) return std::unexpected(tx.error());

  if (step.kind == NextStep::kRetry) {
    auto update = db.prepare(
        "UPDATE async_events SET attempts = ?, throttles = ?, next_attempt_ms = ?, "
        "last_status = ?, last_error = ?, last_response = ? WHERE request_id = ?");
    if (!update) return std::unexpected(update.error());
    update->bind(1, int64_t{step.progress.attempts})
        .bind(2, int64_t{step.progress.throttles})
        .bind(3, step.next_attempt_unix_ms);
    if (response) {
      update->bind(4, int64_t{response->status()})
          .bind(5, bounded_error_text(*response))
          .bind_blob(6, bounded_response(*response).SerializeAsString());
    } else {
      update->bind(4, int64_t{api::STATUS_UNSPECIFIED}).bind(5, "").bind_null(6);
    }
    if (auto r = update->bind(7, event.request_id).run(); !r) return std::unexpected(r.error());
    if (db.changes() == 0) return false;
    if (auto r = tx->commit(); !r) return std::unexpected(r.error());
    return true;
  }

  auto deleted = delete_event(db, event.request_id);
  if (!deleted) return std::unexpected(deleted.error());
  if (!*deleted) return false;

  // The event's final answer: this attempt's, else the last one's, else (it
  // aged out before it could ever run: the queue was backed up or sproutd
  // was down) a THROTTLED that says so.
  api::InvokeResponse final_answer;
  if (response) {
    final_answer = *response;
  } else if (event.last_response) {
    final_answer = *event.last_response;
  } else {
    final_answer = failure(api::THROTTLED,
                           "the event passed its maximum age before it could run",
                           event.request_id);
  }
  if (final_answer.request_id().empty()) final_answer.set_request_id(event.request_id);

  bool still_queued = false;  // a destination event replaces the failed one
  uint64_t dropped_letters = 0;  // the oldest dead letters beyond the cap
  if (step.kind == NextStep::kFailed && !destination.empty()) {
    FailedEvent failed{.request_id = event.request_id,
                       .function = event.function,
                       .payload = event.payload,
                       .condition = step.reason,
                       .invoke_count = step.progress.attempts,
                       .failed_unix_ms = now,
                       .last_response = response ? response : event.last_response};
    // The record's own event: a new id; source_id names the failed event.
    if (auto r = insert_event(db, new_request_id(), destination, destination_record(failed),
                              api::ASYNC, event.request_id, now, /*is_destination_record=*/true);
        !r)
      return std::unexpected(r.error());
    still_queued = true;
  } else if (step.kind == NextStep::kFailed) {
    auto insert = db.prepare(
        "INSERT OR REPLACE INTO async_dead_letters (request_id, function, payload, source, "
        "source_id, last_status, last_error, attempts, enqueued_ms, failed_ms, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!insert) return std::unexpected(insert.error());
    if (auto r = insert->bind(1, event.request_id)
                     .bind(2, event.function)
                     .bind_blob(3, event.payload)
                     .bind(4, int64_t{event.source})
                     .bind(5, event.source_id)
                     .bind(6, int64_t{final_answer.status()})
                     .bind(7, bounded_error_text(final_answer))
                     .bind(8, int64_t{step.progress.attempts})
                     .bind(9, event.progress.enqueued_unix_ms)
                     .bind(10, now)
                     .bind(11, step.reason)
                     .run();
        !r)
      return std::unexpected(r.error());
    auto trimmed = trim_dead_letters(db, event.function, core.options.max_dead_letters);
    if (!trimmed) return std::unexpected(trimmed.error());
    dropped_letters = *trimmed;
  }
  if (auto r = store_result(db, event.request_id, final_answer, now, core.options.kept_results);
      !r)
    return std::unexpected(r.error());
  if (auto r = tx->commit(); !r) return std::unexpected(r.error());
  if (dropped_letters > 0) {
    core.dead_letters_dropped += dropped_letters;
    log_line(LogLevel::kWarning,
             "async queue: function " + event.function + " has more than " +
                 std::to_string(core.options.max_dead_letters) + " dead letters; dropped the " +
                 std::to_string(dropped_letters) + " oldest (" +
                 std::to_string(core.dead_letters_dropped) + " dropped since start)");
  }
  if (!still_queued) --core.queued;
  core.collect_final(event.request_id, final_answer, deferred);
  return true;
}

// Ends one attempt of `event` (or its refusal without a run) by `step`.
// Called without the mutex: it asks the invoker about the destination.
void conclude(AsyncQueueCore& core, const QueuedEvent& event, const NextStep& step,
              const std::optional<api::InvokeResponse>& response, const api::AsyncConfig& config) {
  std::string destination;
  if (step.kind == NextStep::kFailed && !config.on_failure().empty()) {
    if (event.is_destination_record) {
      // A record that fails would otherwise become a record of a record: two
      // functions that are each other's destination would bounce it forever,
      // each round nesting the last.
      log_line(LogLevel::kWarning, "async event " + event.request_id + " of " + event.function +
                                       " carries a destination record and failed; it goes to the "
                                       "dead letters, not to " + config.on_failure());
    } else if (config.on_failure() == event.function) {
      // Its own failures fed back to itself would fail again, nested deeper
      // each time.
      log_line(LogLevel::kWarning, "async event " + event.request_id + " of " + event.function +
                                       ": the function is its own on-failure destination; the "
                                       "event goes to the dead letters");
    } else if (core.invoker.async_config(config.on_failure())) {
      destination = config.on_failure();
    } else {
      log_line(LogLevel::kWarning, "async event " + event.request_id + " of " + event.function +
                                       ": on-failure function " + config.on_failure() +
                                       " does not exist; the event goes to the dead letters");
    }
  }
  AsyncQueueCore::Deferred deferred;
  {
    std::lock_guard lock(core.mutex);
    if (core.stopping) {
      // sproutd is stopping: the attempt is not recorded, the event runs
      // again after the restart.
      core.in_flight.erase(event.request_id);
      return;
    }
    auto applied = apply_step(core, event, step, response, destination, deferred);
    if (!applied) {
      // Leave it marked in flight: it is not run again in this process (no
      // loop re-running a function while the disk fails), and at the next
      // start it is due again, as an attempt cut short by a crash.
      log_line(LogLevel::kError, "async event " + event.request_id + " of " + event.function +
                                     ": cannot record its attempt: " + applied.error().message());
      return;
    }
    core.in_flight.erase(event.request_id);
    core.poke();
  }
  run_deferred(deferred);
}

void on_answer(const std::weak_ptr<AsyncQueueCore>& weak, const QueuedEvent& event,
               api::InvokeResponse response) {
  const std::shared_ptr<AsyncQueueCore> core = weak.lock();
  if (!core) return;  // the queue is gone: the event is retried at the next start
  {
    std::lock_guard lock(core->mutex);
    if (core->stopping) {
      core->in_flight.erase(event.request_id);
      return;
    }
  }
  if (response.request_id().empty()) response.set_request_id(event.request_id);
  // The function's settings now, not when it was enqueued (as Lambda).
  const api::AsyncConfig config =
      core->invoker.async_config(event.function).value_or(api::AsyncConfig{});
  const NextStep step = next_step(event.progress, response.status(), config, core->now(),
                                  core->options.retry_base_delay_ms);
  conclude(*core, event, step, response, config);
}

// Starts one attempt of `event` (marked in flight; mutex not held).
void dispatch(const std::shared_ptr<AsyncQueueCore>& core, QueuedEvent event) {
  const std::optional<api::AsyncConfig> config = core->invoker.async_config(event.function);
  const int64_t now = core->now();
  if (!config) {
    const api::InvokeResponse gone = failure(
        api::NOT_FOUND, "function " + event.function + " does not exist", event.request_id);
    const NextStep step = next_step(event.progress, api::NOT_FOUND, api::AsyncConfig{}, now,
                                    core->options.retry_base_delay_ms);
    conclude(*core, event, step, gone, api::AsyncConfig{});
    return;
  }
  if (too_old(event.progress.enqueued_unix_ms, *config, now)) {
    NextStep step;
    step.kind = NextStep::kFailed;
    step.progress = event.progress;
    step.reason = kEventAgeExceeded;
    conclude(*core, event, step, std::nullopt, *config);
    return;
  }
  EventInvocation call{.function = event.function,
                       .payload = event.payload,
                       .request_id = event.request_id,
                       .source = event.source,
                       .source_id = event.source_id,
                       .attempt = event.progress.attempts + 1};
  // The callback holds the queue weakly: an answer after the queue is
  // destroyed (a "crash" in tests, a shutdown in sproutd) changes nothing.
  std::weak_ptr<AsyncQueueCore> weak = core;
  core->invoker.invoke(call, [weak, event = std::move(event)](api::InvokeResponse response) {
    on_answer(weak, event, std::move(response));
  });
}

// The ids of up to `limit` due events, earliest first (mutex held). Ids
// only: the payloads of the ones in flight are not read again.
Result<std::vector<std::string>> select_due(AsyncQueueCore& core, int64_t now, size_t limit) {
  auto select = core.db->prepare(
      "SELECT request_id FROM async_events WHERE next_attempt_ms <= ? "
      "ORDER BY next_attempt_ms, rowid LIMIT ?");
  if (!select) return std::unexpected(select.error());
  select->bind(1, now).bind(2, static_cast<int64_t>(limit));
  std::vector<std::string> ids;
  while (true) {
    auto row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    ids.push_back(select->column_text(0));
  }
  return ids;
}

// One queued event, whole (mutex held); nullopt: not queued.
Result<std::optional<QueuedEvent>> read_queued(AsyncQueueCore& core, const std::string& request_id) {
  auto select = core.db->prepare(std::string("SELECT ") + kEventColumns +
                                 " FROM async_events WHERE request_id = ?");
  if (!select) return std::unexpected(select.error());
  auto row = select->bind(1, request_id).step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<QueuedEvent>{};
  return std::optional<QueuedEvent>{read_event(*select)};
}

// When the next event not yet due becomes due (mutex held).
Result<std::optional<int64_t>> next_due_after(AsyncQueueCore& core, int64_t now) {
  auto select = core.db->prepare(
      "SELECT MIN(next_attempt_ms) FROM async_events WHERE next_attempt_ms > ?");
  if (!select) return std::unexpected(select.error());
  select->bind(1, now);
  auto row = select->step();
  if (!row) return std::unexpected(row.error());
  if (!*row || select->column_is_null(0)) return std::optional<int64_t>{};
  return std::optional<int64_t>{select->column_int(0)};
}

// Where an event stands, for GetResult (mutex held; every statement is
// finalized before it returns, so the caller may unlock).
struct Lookup {
  enum State { kUnknown, kDone, kPending } state = kUnknown;
  api::InvokeResponse response;  // kDone
};

Result<Lookup> look_up(AsyncQueueCore& core, const std::string& request_id) {
  Database& db = *core.db;
  Lookup found;
  auto done = db.prepare("SELECT response FROM async_results WHERE request_id = ?");
  if (!done) return std::unexpected(done.error());
  auto row = done->bind(1, request_id).step();
  if (!row) return std::unexpected(row.error());
  if (*row) {
    found.state = Lookup::kDone;
    if (!found.response.ParseFromString(done->column_text(0)))
      found.response = failure(api::INTERNAL, "the stored result cannot be read", request_id);
    return found;
  }

  auto queued = db.prepare("SELECT 1 FROM async_events WHERE request_id = ?");
  if (!queued) return std::unexpected(queued.error());
  row = queued->bind(1, request_id).step();
  if (!row) return std::unexpected(row.error());
  if (*row) {
    found.state = Lookup::kPending;
    return found;
  }

  // A dead letter whose kept result aged out: its last status and error.
  auto dead = db.prepare(
      "SELECT last_status, last_error FROM async_dead_letters WHERE request_id = ?");
  if (!dead) return std::unexpected(dead.error());
  row = dead->bind(1, request_id).step();
  if (!row) return std::unexpected(row.error());
  if (*row) {
    found.state = Lookup::kDone;
    found.response = failure(static_cast<api::Status>(dead->column_int(0)), dead->column_text(1),
                             request_id);
  }
  return found;
}

Result<uint64_t> count_queued(Database& db) {
  auto count = db.prepare("SELECT COUNT(*) FROM async_events");
  if (!count) return std::unexpected(count.error());
  auto row = count->step();
  if (!row) return std::unexpected(row.error());
  return *row ? static_cast<uint64_t>(count->column_int(0)) : 0;
}

void dispatcher_loop(const std::shared_ptr<AsyncQueueCore>& core) {
  std::unique_lock lock(core->mutex);
  while (!core->stopping) {
    core->poked = false;
    const int64_t now = core->now();
    int64_t wait_ms = kIdleWaitMs;
    const size_t slots = core->options.max_in_flight;
    const size_t free = slots > core->in_flight.size() ? slots - core->in_flight.size() : 0;
    std::vector<QueuedEvent> batch;
    bool database_failed = false;
    if (free > 0) {
      // The first (in flight + free) due rows hold at least `free` that are
      // not in flight, if there are that many.
      auto due = select_due(*core, now, core->in_flight.size() + free);
      if (!due) {
        log_line(LogLevel::kError, "async queue: " + due.error().message());
        wait_ms = kDatabaseErrorWaitMs;
      } else {
        for (const std::string& id : *due) {
          if (batch.size() == free || core->in_flight.contains(id)) continue;
          auto event = read_queued(*core, id);
          if (!event) {
            log_line(LogLevel::kError, "async queue: " + event.error().message());
            database_failed = true;
            break;
          }
          if (!*event) continue;
          core->in_flight.insert(id);
          batch.push_back(std::move(**event));
        }
        if (database_failed) {
          wait_ms = kDatabaseErrorWaitMs;
        } else if (batch.empty()) {
          auto next = next_due_after(*core, now);
          if (!next) {
            log_line(LogLevel::kError, "async queue: " + next.error().message());
            wait_ms = kDatabaseErrorWaitMs;
          } else if (*next) {
            wait_ms = std::clamp<int64_t>(**next - now, 1, kIdleWaitMs);
          }
        }
      }
    }
    if (!batch.empty()) {
      lock.unlock();
      for (QueuedEvent& event : batch) dispatch(core, std::move(event));
      lock.lock();
      if (!database_failed) continue;
      core->poked = false;  // the answers of this batch must not end the pause
    }
    // Woken by: an enqueue, an answer (a slot freed), a redrive, wake(),
    // stop(); or when the next event becomes due.
    core->wakeup.wait_for(lock, std::chrono::milliseconds(wait_ms),
                          [&] { return core->stopping || core->poked; });
  }
}

}  // namespace

Result<std::unique_ptr<AsyncQueue>> AsyncQueue::open(AsyncQueueOptions options, Invoker& invoker) {
  if (options.database_path.empty())
    return plain_error("open the async queue", "no database path given");
  if (options.retry_base_delay_ms <= 0)
    return plain_error("open the async queue", "retry_base_delay_ms must be positive, not " +
                                                   std::to_string(options.retry_base_delay_ms));
  if (options.max_in_flight == 0 || options.max_queued == 0 || options.max_dead_letters == 0)
    return plain_error("open the async queue",
                       "max_in_flight, max_queued and max_dead_letters must be positive");
  auto db = Database::open(options.database_path, Durability::kFull);
  if (!db) return std::unexpected(db.error());
  if (auto r = (*db)->exec(kSchema); !r) return std::unexpected(r.error());
  if (auto r = add_missing_columns(**db); !r) return std::unexpected(r.error());
  auto queued = count_queued(**db);
  if (!queued) return std::unexpected(queued.error());

  auto core = std::make_shared<AsyncQueueCore>(std::move(options), invoker, std::move(*db));
  core->queued = *queued;
  return std::unique_ptr<AsyncQueue>(new AsyncQueue(std::move(core)));
}

AsyncQueue::~AsyncQueue() { stop(); }

void AsyncQueue::start() {
  std::lock_guard lock(core_->mutex);
  if (core_->started || core_->stopping) return;
  core_->started = true;
  dispatcher_ = std::thread([core = core_] { dispatcher_loop(core); });
}

void AsyncQueue::stop() {
  {
    std::lock_guard lock(core_->mutex);
    core_->stopping = true;
    core_->finished.clear();
    core_->poke();
  }
  if (dispatcher_.joinable()) dispatcher_.join();
}

void AsyncQueue::wake() {
  std::lock_guard lock(core_->mutex);
  core_->poke();
}

Enqueued AsyncQueue::enqueue(const NewEvent& event,
                             const std::function<Result<void>(Database&)>& same_transaction,
                             std::function<void(const api::InvokeResponse&)> finished) {
  Enqueued answer;
  auto refuse = [&answer](api::Status status, std::string why) {
    answer.status = status;
    answer.error = std::move(why);
    return answer;
  };
  if (!core_->invoker.async_config(event.function))
    return refuse(api::NOT_FOUND, "function " + event.function + " does not exist");
  std::string request_id = new_request_id();

  std::lock_guard lock(core_->mutex);
  if (core_->stopping) return refuse(api::UNAVAILABLE, "sproutd is shutting down");
  if (core_->queued >= core_->options.max_queued)
    return refuse(api::THROTTLED, "the async queue is full (" +
                                      std::to_string(core_->options.max_queued) + " events)");
  Database& db = *core_->db;
  auto tx = db.begin();
  if (!tx) return refuse(api::INTERNAL, tx.error().message());
  if (auto r = insert_event(db, request_id, event.function, event.payload, event.source,
                            event.source_id, core_->now());
      !r)
    return refuse(api::INTERNAL, r.error().message());
  if (same_transaction) {
    if (auto r = same_transaction(db); !r) return refuse(api::INTERNAL, r.error().message());
  }
  if (auto r = tx->commit(); !r) return refuse(api::INTERNAL, r.error().message());
  ++core_->queued;
  if (finished) core_->finished.emplace(request_id, std::move(finished));
  core_->poke();
  answer.request_id = std::move(request_id);
  return answer;
}

void AsyncQueue::ResultWait::withdraw() const {
  const std::shared_ptr<AsyncQueueCore> core = core_.lock();
  if (!core) return;
  std::lock_guard lock(core->mutex);
  auto it = core->waits.find(request_id_);
  if (it == core->waits.end()) return;
  if (it->second.erase(id_) != 0) --core->waiting;
  if (it->second.empty()) core->waits.erase(it);
}

bool AsyncQueue::result(const std::string& request_id, bool wait, ResultAnswer answer,
                        ResultWait* wait_handle) {
  if (request_id.empty() || request_id.size() > kMaxRequestIdLength) return false;
  std::unique_lock lock(core_->mutex);
  auto found = look_up(*core_, request_id);
  if (!found) {
    log_line(LogLevel::kError,
             "async queue: GetResult " + request_id + ": " + found.error().message());
    return false;
  }
  switch (found->state) {
    case Lookup::kUnknown:
      return false;
    case Lookup::kDone:
      lock.unlock();
      answer(finished_result(found->response));
      return true;
    case Lookup::kPending:
      if (!wait) {
        lock.unlock();
        answer(api::GetResultResponse{});  // done = false
        return true;
      }
      break;
  }
  const uint64_t id = core_->next_wait_id++;
  core_->waits[request_id].emplace(id, std::move(answer));
  ++core_->waiting;
  if (wait_handle) *wait_handle = ResultWait(core_, request_id, id);
  return true;
}

Result<std::vector<api::DeadLetter>> AsyncQueue::dead_letters(const std::string& function,
                                                              uint32_t limit) {
  std::lock_guard lock(core_->mutex);
  auto select = core_->db->prepare(
      "SELECT request_id, function, payload, source, last_status, last_error, attempts, "
      "enqueued_ms, failed_ms, reason FROM async_dead_letters WHERE function = ? "
      "ORDER BY failed_ms, rowid LIMIT ?");
  if (!select) return std::unexpected(select.error());
  select->bind(1, function).bind(2, int64_t{limit == 0 ? kDefaultDeadLetterLimit : limit});
  std::vector<api::DeadLetter> letters;
  while (true) {
    auto row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    api::DeadLetter& letter = letters.emplace_back();
    letter.set_request_id(select->column_text(0));
    letter.set_function(select->column_text(1));
    letter.set_payload(select->column_text(2));
    letter.set_source(static_cast<api::InvocationSource>(select->column_int(3)));
    letter.set_last_status(static_cast<api::Status>(select->column_int(4)));
    letter.set_last_error(select->column_text(5));
    letter.set_attempts(static_cast<uint32_t>(select->column_int(6)));
    letter.set_enqueued_unix_ms(select->column_int(7));
    letter.set_failed_unix_ms(select->column_int(8));
    letter.set_reason(select->column_text(9));
  }
  return letters;
}

Result<uint32_t> AsyncQueue::redrive(const std::string& function,
                                     const std::vector<std::string>& request_ids) {
  std::lock_guard lock(core_->mutex);
  Database& db = *core_->db;
  std::vector<std::string> ids = request_ids;
  if (ids.empty()) {
    auto all = db.prepare(
        "SELECT request_id FROM async_dead_letters WHERE function = ? ORDER BY failed_ms, rowid");
    if (!all) return std::unexpected(all.error());
    all->bind(1, function);
    while (true) {
      auto row = all->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      ids.push_back(all->column_text(0));
    }
  }
  const uint64_t room =
      core_->options.max_queued > core_->queued ? core_->options.max_queued - core_->queued : 0;
  const int64_t now = core_->now();
  auto tx = db.begin();
  if (!tx) return std::unexpected(tx.error());
  auto move = db.prepare(
      "INSERT INTO async_events (request_id, function, payload, source, source_id, enqueued_ms, "
      "next_attempt_ms) SELECT request_id, function, payload, ?, '', ?, ? "
      "FROM async_dead_letters WHERE request_id = ? AND function = ?");
  auto erase_letter = db.prepare("DELETE FROM async_dead_letters WHERE request_id = ?");
  auto erase_result = db.prepare("DELETE FROM async_results WHERE request_id = ?");
  if (!move) return std::unexpected(move.error());
  if (!erase_letter) return std::unexpected(erase_letter.error());
  if (!erase_result) return std::unexpected(erase_result.error());
  uint32_t moved = 0;
  for (const std::string& id : ids) {
    if (moved >= room) break;
    move->reset();
    if (auto r = move->bind(1, int64_t{api::ASYNC}).bind(2, now).bind(3, now).bind(4, id).bind(5, function).run();
        !r)
      return std::unexpected(r.error());
    if (db.changes() == 0) continue;  // not a dead letter of `function`
    erase_letter->reset();
    erase_result->reset();
    if (auto r = erase_letter->bind(1, id).run(); !r) return std::unexpected(r.error());
    if (auto r = erase_result->bind(1, id).run(); !r) return std::unexpected(r.error());
    ++moved;
  }
  if (auto r = tx->commit(); !r) return std::unexpected(r.error());
  core_->queued += moved;
  if (moved > 0) core_->poke();
  return moved;
}

Result<void> AsyncQueue::forget_function(const std::string& function) {
  AsyncQueueCore::Deferred deferred;
  {
    std::lock_guard lock(core_->mutex);
    Database& db = *core_->db;
    auto tx = db.begin();
    if (!tx) return std::unexpected(tx.error());
    auto select = db.prepare("SELECT request_id FROM async_events WHERE function = ?");
    if (!select) return std::unexpected(select.error());
    select->bind(1, function);
    std::vector<std::string> dropped;
    while (true) {
      auto row = select->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      dropped.push_back(select->column_text(0));
    }
    for (const char* sql : {"DELETE FROM async_events WHERE function = ?",
                            "DELETE FROM async_dead_letters WHERE function = ?"}) {
      auto erase = db.prepare(sql);
      if (!erase) return std::unexpected(erase.error());
      if (auto r = erase->bind(1, function).run(); !r) return r;
    }
    if (auto r = tx->commit(); !r) return r;
    core_->queued -= std::min<uint64_t>(core_->queued, dropped.size());
    for (const std::string& id : dropped) {
      core_->collect_final(
          id, failure(api::NOT_FOUND, "function " + function + " was deleted", id), deferred);
    }
  }
  run_deferred(deferred);
  return {};
}

uint64_t AsyncQueue::queued() const {
  std::lock_guard lock(core_->mutex);
  return core_->queued;
}

uint32_t AsyncQueue::in_flight() const {
  std::lock_guard lock(core_->mutex);
  return static_cast<uint32_t>(core_->in_flight.size());
}

uint32_t AsyncQueue::waiting() const {
  std::lock_guard lock(core_->mutex);
  return core_->waiting;
}

uint64_t AsyncQueue::dead_letters_dropped() const {
  std::lock_guard lock(core_->mutex);
  return core_->dead_letters_dropped;
}

}  // namespace sprout::events::async
