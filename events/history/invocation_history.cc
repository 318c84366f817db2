#include "events/history/invocation_history.h"

#include <algorithm>
#include <set>
#include <utility>

#include "base/log.h"
#include "events/history/history_entry.h"

namespace sprout::events {
namespace {

// seq orders a function's entries by when they were recorded (AUTOINCREMENT:
// never reused, even after the newest rows are deleted); the index serves
// list(), the trim and forget(). The entry itself is the serialized message,
// so that a field added to HistoryEntry needs no migration.
constexpr std::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS history_entries ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  function TEXT NOT NULL,"
    "  start_unix_ms INTEGER NOT NULL,"
    "  entry BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS history_entries_by_function"
    "  ON history_entries (function, seq);";

// Resets a shared prepared statement however its use ends, so that it
// neither keeps stale bindings nor holds a read transaction open.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& statement) : statement_(statement) {}
  ~ResetOnExit() { statement_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& statement_;
};

Result<void> check(const HistoryOptions& options) {
  if (options.max_per_function == 0)
    return plain_error("open invocation history", "max_per_function must be at least 1");
  if (options.buffer_capacity == 0)
    return plain_error("open invocation history", "buffer_capacity must be at least 1");
  if (options.batch_size == 0)
    return plain_error("open invocation history", "batch_size must be at least 1");
  if (options.flush_interval.count() <= 0)
    return plain_error("open invocation history", "flush_interval must be positive");
  return {};
}

}  // namespace

struct InvocationHistory::Statements {
  Statement insert;
  Statement trim;
  Statement newest;
  Statement forget;
};

Result<std::unique_ptr<InvocationHistory>> InvocationHistory::open(const std::string& db_path,
                                                                   const HistoryOptions& options) {
  if (auto valid = check(options); !valid) return std::unexpected(valid.error());
  auto db = Database::open(db_path, Durability::kNormal);
  if (!db) return std::unexpected(db.error());
  if (auto schema = (*db)->exec(kSchema); !schema) return std::unexpected(schema.error());

  auto insert = (*db)->prepare(
      "INSERT INTO history_entries (function, start_unix_ms, entry) VALUES (?1, ?2, ?3)");
  // Deletes every entry of ?1 older than its ?2 newest (nothing when it has
  // no more than ?2: the comparison with NULL is never true).
  auto trim = (*db)->prepare(
      "DELETE FROM history_entries WHERE function = ?1 AND seq <= "
      "(SELECT seq FROM history_entries WHERE function = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)");
  auto newest = (*db)->prepare(
      "SELECT entry FROM history_entries WHERE function = ?1 ORDER BY seq DESC LIMIT ?2");
  auto forget = (*db)->prepare("DELETE FROM history_entries WHERE function = ?1");
  if (!insert) return std::unexpected(insert.error());
  if (!trim) return std::unexpected(trim.error());
  if (!newest) return std::unexpected(newest.error());
  if (!forget) return std::unexpected(forget.error());
  auto statements = std::make_unique<Statements>(Statements{
      .insert = std::move(*insert),
      .trim = std::move(*trim),
      .newest = std::move(*newest),
      .forget = std::move(*forget),
  });
  std::unique_ptr<InvocationHistory> history(
      new InvocationHistory(std::move(*db), std::move(statements), options));
  history->writer_ = std::thread([raw = history.get()] { raw->writer_loop(); });
  return history;
}

InvocationHistory::InvocationHistory(std::unique_ptr<Database> db,
                                     std::unique_ptr<Statements> statements,
                                     const HistoryOptions& options)
    : options_(options), db_(std::move(db)), statements_(std::move(statements)) {}

InvocationHistory::~InvocationHistory() { stop(); }

void InvocationHistory::record(const std::string& function, api::HistoryEntry entry) {
  truncate_history_entry(entry);  // before the lock: the lock is only for the append
  bool wake_writer = false;
  {
    std::lock_guard lock(buffer_mutex_);
    if (stopping_ || buffer_.size() >= options_.buffer_capacity) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    buffer_.push_back(Pending{.function = function, .entry = std::move(entry)});
    wake_writer = buffer_.size() == options_.batch_size;
  }
  if (wake_writer) buffer_filled_.notify_one();
}

Result<std::vector<api::HistoryEntry>> InvocationHistory::list(const std::string& function,
                                                               uint32_t limit) {
  if (function.empty()) return plain_error("list invocation history", "no function name given");
  size_t wanted = limit == 0 ? kHistoryDefaultLimit : std::min(limit, kHistoryMaxLimit);
  wanted = std::min(wanted, options_.max_per_function);

  std::vector<api::HistoryEntry> newest_first;
  // Holding db_mutex_ keeps the writer from moving entries between the
  // buffer, unwritten_ and the table while they are read: each is seen once.
  std::lock_guard db_lock(db_mutex_);
  const auto take_newest = [&](auto begin, auto end) {
    for (auto it = begin; it != end && newest_first.size() < wanted; ++it)
      if (it->function == function) newest_first.push_back(it->entry);
  };
  {
    std::lock_guard lock(buffer_mutex_);
    take_newest(buffer_.rbegin(), buffer_.rend());
  }
  take_newest(unwritten_.rbegin(), unwritten_.rend());
  if (newest_first.size() >= wanted) return newest_first;

  Statement& select = statements_->newest;
  ResetOnExit reset(select);
  select.bind(1, function).bind(2, static_cast<int64_t>(wanted - newest_first.size()));
  while (true) {
    auto row = select.step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    api::HistoryEntry entry;
    if (!entry.ParseFromString(select.column_text(0))) {
      // One damaged row must not hide the rest of the history.
      log_line(LogLevel::kWarning, "invocation history of " + function +
                                       ": skipped an entry that does not parse");
      continue;
    }
    newest_first.push_back(std::move(entry));
  }
  return newest_first;
}

Result<void> InvocationHistory::forget(const std::string& function) {
  if (function.empty()) return plain_error("forget invocation history", "no function name given");
  const auto of_function = [&function](const Pending& pending) {
    return pending.function == function;
  };
  std::lock_guard db_lock(db_mutex_);
  {
    std::lock_guard lock(buffer_mutex_);
    std::erase_if(buffer_, of_function);
  }
  std::erase_if(unwritten_, of_function);
  Statement& erase = statements_->forget;
  ResetOnExit reset(erase);
  return erase.bind(1, function).run();
}

Result<void> InvocationHistory::flush() {
  std::lock_guard db_lock(db_mutex_);
  size_t remaining = 0;
  {
    std::lock_guard lock(buffer_mutex_);
    remaining = buffer_.size() + unwritten_.size();
  }
  // Entries are written oldest first, so once as many as were waiting at the
  // call have been written, every one of them has; entries recorded since may
  // wait for the writer.
  while (remaining > 0) {
    auto wrote = write_batch();
    if (!wrote) return std::unexpected(wrote.error());
    if (*wrote == 0) break;
    remaining -= std::min(remaining, *wrote);
  }
  return {};
}

void InvocationHistory::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  {
    std::lock_guard lock(buffer_mutex_);
    stopping_ = true;
  }
  buffer_filled_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (auto flushed = flush(); !flushed) {
    std::lock_guard db_lock(db_mutex_);
    log_line(LogLevel::kError, "invocation history: " + std::to_string(unwritten_.size()) +
                                   " entries not written at stop: " + flushed.error().message());
  }
}

Result<size_t> InvocationHistory::write_batch() {
  {
    std::lock_guard lock(buffer_mutex_);
    while (unwritten_.size() < options_.batch_size && !buffer_.empty()) {
      unwritten_.push_back(std::move(buffer_.front()));
      buffer_.pop_front();
    }
  }
  if (unwritten_.empty()) return size_t{0};
  if (auto inserted = insert_and_trim(unwritten_); !inserted)
    return std::unexpected(inserted.error());
  const size_t count = unwritten_.size();
  written_.fetch_add(count, std::memory_order_relaxed);
  unwritten_.clear();
  return count;
}

Result<void> InvocationHistory::insert_and_trim(const std::vector<Pending>& batch) {
  auto transaction = db_->begin();
  if (!transaction) return std::unexpected(transaction.error());
  std::set<std::string_view> functions;
  Statement& insert = statements_->insert;
  for (const Pending& pending : batch) {
    ResetOnExit reset(insert);
    auto inserted = insert.bind(1, pending.function)
                        .bind(2, pending.entry.start_unix_ms())
                        .bind_blob(3, pending.entry.SerializeAsString())
                        .run();
    if (!inserted) return inserted;  // the transaction rolls back
    functions.insert(pending.function);
  }
  Statement& trim = statements_->trim;
  for (std::string_view function : functions) {
    ResetOnExit reset(trim);
    auto trimmed = trim.bind(1, function)
                       .bind(2, static_cast<int64_t>(options_.max_per_function))
                       .run();
    if (!trimmed) return trimmed;
  }
  return transaction->commit();
}

void InvocationHistory::writer_loop() {
  bool failing = false;
  while (true) {
    {
      std::unique_lock lock(buffer_mutex_);
      buffer_filled_.wait_for(lock, options_.flush_interval, [this] {
        return stopping_ || buffer_.size() >= options_.batch_size;
      });
      if (stopping_) return;  // stop() writes what is left
    }
    Result<size_t> wrote = size_t{0};
    {
      std::lock_guard db_lock(db_mutex_);
      wrote = write_batch();
    }
    if (wrote && failing) {
      log_line(LogLevel::kInfo, "invocation history: writing again");
      failing = false;
    } else if (!wrote) {
      // Logged once per outage, not per batch; the entries stay in memory
      // (new ones are dropped once the buffer is full) and are retried.
      if (!failing)
        log_line(LogLevel::kWarning,
                 "invocation history: cannot write, retrying: " + wrote.error().message());
      failing = true;
      std::unique_lock lock(buffer_mutex_);
      buffer_filled_.wait_for(lock, options_.flush_interval, [this] { return stopping_; });
    }
  }
}

}  // namespace sprout::events
