// One running file trigger: a thread that watches the trigger's directory
// (DirectoryWatcher) and hands each new object, as an S3 ObjectCreated:Put
// record, to the EventQueue. The cursor (table file_delivered of the event
// database: per trigger and key, the size, mtime and inode delivered last)
// moves inside the queue's own transaction, so that a file is delivered
// exactly when its event is stored: once, again only when rewritten (new
// size, mtime or inode), and, through the full scan at start, also when it
// arrived while sproutd was down. A refused enqueue (THROTTLED, ...) is
// retried with backoff; nothing is dropped.
//
// Thread-safe: describe() from any thread while the trigger runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "base/unique_fd.h"
#include "events/event_sink.h"

namespace sprout::events {

class Database;

struct FileTriggerSettings {
  std::string region = "us-east-1";   // the records' awsRegion
  std::string principal_id = "sprout";  // userIdentity and the bucket's owner
  size_t max_directories = 10000;     // watched per trigger
  size_t max_pending = 10000;         // files waiting (settling, retrying); beyond: a later rescan
  // A file found by a scan (not closed or moved in under a watch) is taken
  // once it has not been modified for this long: it may be being written.
  std::chrono::milliseconds settle{1000};
  std::chrono::milliseconds retry_initial{250};  // after a refused enqueue, doubling
  std::chrono::milliseconds retry_max{30000};
  std::chrono::milliseconds reopen_interval{2000};  // while the directory is missing
  // Files larger than this are not read for their MD5 (it would pin a CPU
  // for minutes): their eTag is s3_unhashed_etag(), not an MD5.
  uint64_t max_hashed_bytes = uint64_t{1} << 30;
};

// Creates the tables of this file (file_triggers, file_delivered) if needed.
Result<void> create_file_trigger_tables(Database& db);

class FileTrigger {
 public:
  // Starts watching. `definition` is validated (validate_file_trigger), has
  // its row in file_triggers, and its `delivered` holds the count so far.
  static Result<std::unique_ptr<FileTrigger>> start(const api::Trigger& definition,
                                                    const std::string& database_path,
                                                    EventQueue& queue,
                                                    const FileTriggerSettings& settings);
  ~FileTrigger();  // stop()
  FileTrigger(const FileTrigger&) = delete;
  FileTrigger& operator=(const FileTrigger&) = delete;

  // Ends the thread (an enqueue in progress finishes first). Idempotent.
  void stop();
  // The definition with its state ("active", or what is wrong) and count.
  api::Trigger describe() const;

 private:
  class Loop;
  FileTrigger(api::Trigger definition, UniqueFd stop_event);

  api::Trigger definition_;
  UniqueFd stop_event_;  // an eventfd the thread polls
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<bool> running_{false};  // describe() reads it while stop() may join
  std::atomic<bool> stopping_{false};  // checked while hashing a file
  mutable std::mutex state_mutex_;
  std::string state_;
  std::atomic<uint64_t> delivered_{0};
};

}  // namespace sprout::events
