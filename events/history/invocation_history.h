// The invocation history: every invocation of a function, whatever started
// it, as `sprout history NAME` shows it, bounded per function (the oldest
// entries are dropped).
//
// record() is on sproutd's invocation path, so it never touches the disk: it
// cuts the entry's large fields (history_entry.h) and appends it to a bounded
// buffer in memory; when that buffer is full (the disk cannot keep up) the
// entry is dropped and counted, an invocation never waits for its history. A
// writer thread empties the buffer into the history_entries table of
// <state>/events.db, one transaction per batch, and trims each function it
// wrote to its newest `max_per_function` entries.
//
// Durability: the connection is opened with Durability::kNormal (WAL,
// synchronous=NORMAL): a crash of sproutd loses only what was still buffered
// (at most a flush interval's worth), and a power cut may also lose the last
// commits before it. That is acceptable for a history and only for it: the
// async queue's events are committed with kFull on their own connection.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "events/database.h"

namespace sprout::events {

struct HistoryOptions {
  // Entries kept per function; older ones are deleted as new ones are written.
  size_t max_per_function = 1000;
  // Entries waiting for the writer; beyond it record() drops and counts. At
  // most ~6 KiB each after truncation, so the default bounds it near 24 MiB.
  size_t buffer_capacity = 4096;
  // The writer writes at least this often while entries wait...
  std::chrono::milliseconds flush_interval{100};
  // ...and at most this many entries per transaction (sooner when as many wait).
  size_t batch_size = 256;
};

// Clamps of list()'s limit (HistoryRequest.limit).
inline constexpr uint32_t kHistoryDefaultLimit = 20;
inline constexpr uint32_t kHistoryMaxLimit = 1000;

class InvocationHistory {
 public:
  // Opens its own connection to `db_path` (creating the table), and starts
  // the writer thread. Fails on bad options or a database it cannot open.
  static Result<std::unique_ptr<InvocationHistory>> open(const std::string& db_path,
                                                         const HistoryOptions& options = {});
  // stop(), then closes the connection.
  ~InvocationHistory();
  InvocationHistory(const InvocationHistory&) = delete;
  InvocationHistory& operator=(const InvocationHistory&) = delete;

  // Records one ended invocation of `function`. Thread-safe; never blocks on
  // the disk (only on a short in-memory lock). After stop(), counts as dropped.
  void record(const std::string& function, api::HistoryEntry entry);

  // The newest entries of `function`, most recently recorded first, at most
  // `limit` (0: kHistoryDefaultLimit; above kHistoryMaxLimit: that) and never
  // more than max_per_function; includes entries not written yet. An unknown
  // function has an empty history. Waits for a write in progress.
  Result<std::vector<api::HistoryEntry>> list(const std::string& function, uint32_t limit);

  // Deletes every entry of `function`, buffered or written (the function was
  // deleted). An invocation of it that ends afterwards is recorded anew.
  Result<void> forget(const std::string& function);

  // Writes everything recorded before the call, on the calling thread. Fails
  // when the database does (a write lock held too long): the entries stay
  // buffered and are written by a later flush or by the writer.
  Result<void> flush();

  // Stops the writer thread and writes what is buffered (errors are logged).
  // Idempotent. Call it after the last invocation has ended.
  void stop();

  // Entries dropped because the buffer was full (or recorded after stop()).
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Entries committed to the database.
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    std::string function;
    api::HistoryEntry entry;
  };
  struct Statements;

  InvocationHistory(std::unique_ptr<Database> db, std::unique_ptr<Statements> statements,
                    const HistoryOptions& options);
  void writer_loop();
  // Moves up to a batch from `buffer_` behind `unwritten_` and writes
  // `unwritten_` in one transaction (on failure it stays for the next try);
  // answers how many entries it wrote. Caller holds db_mutex_.
  Result<size_t> write_batch();
  Result<void> insert_and_trim(const std::vector<Pending>& batch);

  const HistoryOptions options_;

  // Order of locking: db_mutex_, then buffer_mutex_. record() takes only
  // buffer_mutex_, which nobody holds across disk I/O.
  std::mutex db_mutex_;
  std::unique_ptr<Database> db_;             // guarded by db_mutex_
  std::unique_ptr<Statements> statements_;   // guarded by db_mutex_; prepared on db_
  // Taken from the buffer but not committed yet (a failed write); newer than
  // every row, older than the buffer. Guarded by db_mutex_.
  std::vector<Pending> unwritten_;

  std::mutex buffer_mutex_;
  std::condition_variable buffer_filled_;
  std::deque<Pending> buffer_;  // guarded by buffer_mutex_; oldest first
  bool stopping_ = false;       // guarded by buffer_mutex_

  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> written_{0};
  std::mutex stop_mutex_;  // serializes stop()
  std::thread writer_;
};

}  // namespace sprout::events
