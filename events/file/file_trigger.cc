#include "events/file/file_trigger.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "base/clock.h"
#include "base/log.h"
#include "events/database.h"
#include "events/file/directory_watcher.h"
#include "events/file/file_trigger_spec.h"
#include "events/file/s3_event.h"

namespace sprout::events {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS file_triggers (
  id TEXT PRIMARY KEY,
  function TEXT NOT NULL,
  definition BLOB NOT NULL,
  created_unix_ms INTEGER NOT NULL,
  delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS file_triggers_by_function ON file_triggers (function);
CREATE TABLE IF NOT EXISTS file_delivered (
  trigger_id TEXT NOT NULL,
  key BLOB NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  etag TEXT NOT NULL,
  sequencer TEXT NOT NULL,
  delivered_unix_ms INTEGER NOT NULL,
  PRIMARY KEY (trigger_id, key)
);
)sql";

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Nanoseconds, as file times are: a clock in milliseconds would put a file
// written this millisecond in the future.
int64_t wall_clock_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

uint64_t to_ns(milliseconds duration) { return static_cast<uint64_t>(duration.count()) * 1000000; }

// What tells one written version of a file from the next.
struct FileVersion {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t inode = 0;
  bool operator==(const FileVersion&) const = default;
};

FileVersion version_of(const struct stat& st) {
  return {static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_ino)};
}

}  // namespace

Result<void> create_file_trigger_tables(Database& db) { return db.exec(kSchema); }

// The trigger's thread and everything only it touches.
class FileTrigger::Loop {
 public:
  Loop(FileTrigger& owner, std::string database_path, EventQueue& queue,
       FileTriggerSettings settings)
      : owner_(owner),
        database_path_(std::move(database_path)),
        queue_(queue),
        settings_(std::move(settings)),
        spec_(owner.definition_.file()),
        retry_delay_(settings_.retry_initial) {}

  void run();

 private:
  struct Pending {
    uint64_t due_ns = 0;
    DirectoryWatcher::Found how = DirectoryWatcher::Found::kScan;
  };

  Result<void> open_database();
  void open_watcher(uint64_t now);
  void on_file(const std::string& key, DirectoryWatcher::Found how);
  void on_removed(const std::string& key, bool directory);
  // Delivers `key` if it is a new version; a time to try again otherwise
  // (settling, or the queue refused).
  std::optional<uint64_t> attempt(const std::string& key, DirectoryWatcher::Found how);
  Result<std::optional<FileVersion>> delivered_version(const std::string& key);
  void retry_later(const std::string& key, uint64_t due_ns, DirectoryWatcher::Found how);
  void run_due(uint64_t now);
  int poll_timeout_ms(uint64_t now) const;
  void set_state(std::string state);
  bool matches_filters(const std::string& key) const;

  FileTrigger& owner_;
  const std::string database_path_;
  EventQueue& queue_;
  const FileTriggerSettings settings_;
  const api::FileTrigger spec_;

  std::unique_ptr<Database> db_;
  std::unique_ptr<DirectoryWatcher> watcher_;
  uint64_t reopen_at_ns_ = 0;
  uint64_t rescan_at_ns_ = 0;  // 0: none due
  uint64_t verify_at_ns_ = 0;  // next check that the path still leads to the watched directory
  std::map<std::string, Pending> pending_;
  uint64_t queue_blocked_until_ns_ = 0;  // after a refusal: no attempt before
  milliseconds retry_delay_;
  std::string refusal_;  // why the queue refused, for the state
  // Files whose path is no valid S3 key, each counted once (up to
  // max_pending names remembered; past that, every sighting counts).
  std::set<std::string> skipped_keys_;
  uint64_t skipped_count_ = 0;
  uint64_t next_skip_log_ns_ = 0;  // logging them is rate-limited
  uint64_t unlogged_skips_ = 0;
  void skip_invalid_key(const std::string& key);
};

Result<void> FileTrigger::Loop::open_database() {
  auto db = Database::open(database_path_, Durability::kNormal);
  if (!db) return std::unexpected(db.error());
  db_ = std::move(*db);
  return {};
}

void FileTrigger::Loop::set_state(std::string state) {
  const std::lock_guard lock(owner_.state_mutex_);
  owner_.state_ = std::move(state);
}

bool FileTrigger::Loop::matches_filters(const std::string& key) const {
  return key.starts_with(spec_.prefix()) && key.ends_with(spec_.suffix());
}

void FileTrigger::Loop::open_watcher(uint64_t now) {
  reopen_at_ns_ = now + to_ns(settings_.reopen_interval);
  const std::string& root = spec_.watch_dir();
  // The directory may have been replaced since it was validated: never walk
  // a path that now goes through a symlink.
  const std::unique_ptr<char, decltype(&free)> real(realpath(root.c_str(), nullptr), &free);
  if (!real) {
    set_state("watch directory " + root + " is missing; retrying");
    return;
  }
  if (root != real.get()) {
    set_state("watch directory " + root + " now resolves to " + real.get() +
              " (its canonical path changed, through a symlink): refusing to follow it; "
              "checking again");
    return;
  }
  DirectoryWatcher::Callbacks callbacks{
      .file = [this](const std::string& key, DirectoryWatcher::Found how) { on_file(key, how); },
      .removed = [this](const std::string& key, bool directory) { on_removed(key, directory); },
  };
  auto watcher = DirectoryWatcher::open(
      root, DirectoryWatcher::Options{.max_directories = settings_.max_directories},
      std::move(callbacks));
  if (!watcher) {
    set_state("cannot watch " + root + ": " + watcher.error().message() + "; retrying");
    return;
  }
  watcher_ = std::move(*watcher);
  verify_at_ns_ = now + to_ns(settings_.reopen_interval);
  set_state("active");
  // The full scan: every file that arrived while nobody watched.
  if (auto scanned = watcher_->rescan(); !scanned) {
    set_state(scanned.error().message() + "; retrying");
    watcher_.reset();
  }
}

Result<std::optional<FileVersion>> FileTrigger::Loop::delivered_version(const std::string& key) {
  auto select = db_->prepare(
      "SELECT size, mtime_ns, inode FROM file_delivered WHERE trigger_id = ? AND key = ?");
  if (!select) return std::unexpected(select.error());
  select->bind(1, owner_.definition_.id()).bind_blob(2, key);
  auto row = select->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<FileVersion>();
  return std::optional<FileVersion>(
      FileVersion{select->column_int(0), select->column_int(1), select->column_int(2)});
}

void FileTrigger::Loop::skip_invalid_key(const std::string& key) {
  if (skipped_keys_.size() < settings_.max_pending) {
    if (!skipped_keys_.insert(key).second) return;  // counted already
  }
  ++skipped_count_;
  const uint64_t now = monotonic_ns();
  if (now < next_skip_log_ns_) {
    ++unlogged_skips_;
    return;
  }
  next_skip_log_ns_ = now + 1000000000;  // at most one line a second
  // Encoded as in the records: the path is not UTF-8, or too long to log.
  std::string shown = s3_encode_key(key);
  if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
  log_line(LogLevel::kWarning,
           "file trigger " + owner_.definition_.id() + ": skipping " + shown +
               ": its path is not a valid S3 key (not UTF-8, or over 1024 bytes)" +
               (unlogged_skips_ ? " (and " + std::to_string(unlogged_skips_) + " more not logged)"
                                : std::string()));
  unlogged_skips_ = 0;
}

std::optional<uint64_t> FileTrigger::Loop::attempt(const std::string& key,
                                                   DirectoryWatcher::Found how) {
  if (!matches_filters(key)) return std::nullopt;
  if (!is_valid_s3_key(key)) {
    skip_invalid_key(key);
    return std::nullopt;
  }
  if (!watcher_) return std::nullopt;  // a rescan after the reopen finds it
  auto fd = watcher_->open_beneath(key);
  if (!fd) return std::nullopt;  // gone, or not a regular file
  struct stat before {};
  if (fstat(fd->get(), &before) != 0) return std::nullopt;
  const FileVersion version = version_of(before);
  const uint64_t now = monotonic_ns();
  if (how == DirectoryWatcher::Found::kScan) {
    const int64_t age_ns = wall_clock_ns() - version.mtime_ns;
    const auto settle_ns = static_cast<int64_t>(to_ns(settings_.settle));
    // An mtime far in the future (a skewed clock, touch -d) tells nothing:
    // taken as settled, or the file would wait forever.
    if (age_ns < settle_ns && age_ns > -settle_ns)
      return now + static_cast<uint64_t>(settle_ns - std::max<int64_t>(age_ns, 0));
  }
  auto known = delivered_version(key);
  if (!known) {
    log_line(LogLevel::kError, "file trigger " + owner_.definition_.id() + ": " + known.error().message());
    return now + to_ns(settings_.retry_max);
  }
  if (*known && **known == version) return std::nullopt;  // delivered already
  if (now < queue_blocked_until_ns_) return queue_blocked_until_ns_;

  ContentDigest digest;
  if (static_cast<uint64_t>(version.size) > settings_.max_hashed_bytes) {
    digest = {.md5_hex = s3_unhashed_etag(static_cast<uint64_t>(version.size), version.mtime_ns,
                                          version.inode),
              .size = static_cast<uint64_t>(version.size)};
  } else {
    auto hashed = md5_of_fd(fd->get(), &owner_.stopping_);
    if (!hashed) return now + to_ns(settings_.settle);  // stopping, or a read error: later
    digest = std::move(*hashed);
  }
  struct stat after {};
  if (fstat(fd->get(), &after) != 0 || !(version_of(after) == version) ||
      digest.size != static_cast<uint64_t>(version.size))
    return now + to_ns(settings_.settle);  // written while read: take the version it settles to

  S3ObjectCreated object{
      .region = settings_.region,
      .principal_id = settings_.principal_id,
      .configuration_id = owner_.definition_.id(),
      .bucket = spec_.bucket(),
      .key = key,
      .size = digest.size,
      .etag = digest.md5_hex,
      .sequencer = next_s3_sequencer(),
      .event_time_unix_ms = wall_clock_ms(),
  };
  const std::string& trigger_id = owner_.definition_.id();
  // Runs on the queue's connection inside the transaction that stores the
  // event: the cursor and the count move exactly when the event is stored.
  auto move_cursor = [&](Database& db) -> Result<void> {
    auto upsert = db.prepare(
        "INSERT INTO file_delivered (trigger_id, key, size, mtime_ns, inode, etag, sequencer, "
        "delivered_unix_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trigger_id, key) DO "
        "UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode, "
        "etag = excluded.etag, sequencer = excluded.sequencer, "
        "delivered_unix_ms = excluded.delivered_unix_ms");
    if (!upsert) return std::unexpected(upsert.error());
    upsert->bind(1, trigger_id)
        .bind_blob(2, key)
        .bind(3, version.size)
        .bind(4, version.mtime_ns)
        .bind(5, version.inode)
        .bind(6, object.etag)
        .bind(7, object.sequencer)
        .bind(8, object.event_time_unix_ms);
    if (auto ran = upsert->run(); !ran) return ran;
    auto count = db.prepare("UPDATE file_triggers SET delivered = delivered + 1 WHERE id = ?");
    if (!count) return std::unexpected(count.error());
    count->bind(1, trigger_id);
    if (auto ran = count->run(); !ran) return ran;
    if (db.changes() != 1) return plain_error("file trigger " + trigger_id, "was removed");
    return {};
  };
  const Enqueued answer = queue_.enqueue(
      NewEvent{.function = owner_.definition_.function(),
               .payload = s3_put_event_json(object),
               .source = api::FILE,
               .source_id = trigger_id},
      move_cursor);
  if (answer.status == api::OK) {
    owner_.delivered_.fetch_add(1);
    retry_delay_ = settings_.retry_initial;
    if (!refusal_.empty()) {
      refusal_.clear();
      set_state("active");
    }
    return std::nullopt;
  }
  // Every file of this trigger would be refused alike (a full queue, a
  // missing function): hold them all back, doubling the wait.
  queue_blocked_until_ns_ = now + to_ns(retry_delay_);
  retry_delay_ = std::min(retry_delay_ * 2, settings_.retry_max);
  const std::string why = api::Status_Name(answer.status) +
                          (answer.error.empty() ? std::string() : ": " + answer.error);
  if (why != refusal_) {
    refusal_ = why;
    set_state("event queue refused (" + why + "); retrying");
    log_line(LogLevel::kWarning, "file trigger " + trigger_id + ": event queue refused (" + why +
                                     "); retrying with backoff");
  }
  return queue_blocked_until_ns_;
}

void FileTrigger::Loop::retry_later(const std::string& key, uint64_t due_ns,
                                    DirectoryWatcher::Found how) {
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    if (pending_.size() >= settings_.max_pending) {
      // Too many to remember: the cursor knows what is done, so a rescan
      // once they may succeed finds the rest.
      rescan_at_ns_ = rescan_at_ns_ ? std::max(rescan_at_ns_, due_ns) : due_ns;
      return;
    }
    pending_.emplace(key, Pending{.due_ns = due_ns, .how = how});
    return;
  }
  it->second.due_ns = due_ns;
  // Closed after writing outranks found by a scan: no need to settle.
  if (how == DirectoryWatcher::Found::kEvent) it->second.how = how;
}

void FileTrigger::Loop::on_file(const std::string& key, DirectoryWatcher::Found how) {
  const std::optional<uint64_t> again = attempt(key, how);
  if (again) {
    retry_later(key, *again, how);
  } else {
    pending_.erase(key);
  }
}

void FileTrigger::Loop::on_removed(const std::string& key, bool directory) {
  // A deleted object's cursor row only takes space: a file that comes back
  // under that name is a new object (as on S3, a new PUT).
  const std::string first = key + "/";
  const std::string past = key + "0";  // '0' follows '/': "a/..." sorts below "a0"
  if (directory) {
    for (auto it = pending_.lower_bound(first); it != pending_.end() && it->first < past;)
      it = pending_.erase(it);
  }
  pending_.erase(key);
  auto remove = db_->prepare(
      directory ? "DELETE FROM file_delivered WHERE trigger_id = ? AND key >= ? AND key < ?"
                : "DELETE FROM file_delivered WHERE trigger_id = ? AND key = ?");
  if (!remove) return;
  remove->bind(1, owner_.definition_.id());
  if (directory) {
    remove->bind_blob(2, first).bind_blob(3, past);
  } else {
    remove->bind_blob(2, key);
  }
  if (auto ran = remove->run(); !ran)
    log_line(LogLevel::kWarning, "file trigger " + owner_.definition_.id() +
                                     ": forgetting removed files: " + ran.error().message());
}

void FileTrigger::Loop::run_due(uint64_t now) {
  std::vector<std::pair<std::string, DirectoryWatcher::Found>> due;
  for (const auto& [key, pending] : pending_)
    if (pending.due_ns <= now) due.emplace_back(key, pending.how);
  for (const auto& [key, how] : due) {
    pending_.erase(key);
    on_file(key, how);
  }
}

int FileTrigger::Loop::poll_timeout_ms(uint64_t now) const {
  uint64_t wake = UINT64_MAX;
  for (const auto& [key, pending] : pending_) wake = std::min(wake, pending.due_ns);
  if (rescan_at_ns_) wake = std::min(wake, rescan_at_ns_);
  wake = std::min(wake, watcher_ ? verify_at_ns_ : reopen_at_ns_);
  if (wake == UINT64_MAX) return -1;
  if (wake <= now) return 0;
  // Rounded up, so that the loop does not spin on a sub-millisecond rest.
  return static_cast<int>(std::min<uint64_t>((wake - now + 999999) / 1000000, 60000));
}

void FileTrigger::Loop::run() {
  if (auto opened = open_database(); !opened) {
    set_state("cannot open the event database: " + opened.error().message());
    // Nothing can be delivered without the cursor: wait for stop().
    pollfd stop{.fd = owner_.stop_event_.get(), .events = POLLIN, .revents = 0};
    (void)retry_eintr([&] { return ::poll(&stop, 1, -1); });
    return;
  }
  for (;;) {
    uint64_t now = monotonic_ns();
    if (!watcher_ && now >= reopen_at_ns_) open_watcher(now);
    if (watcher_ && now >= verify_at_ns_) {
      verify_at_ns_ = now + to_ns(settings_.reopen_interval);
      // A directory above the root moved or swapped for a symlink: the watch
      // still holds the old directory, which the path no longer names.
      if (!watcher_->still_at_its_path()) {
        watcher_.reset();
        pending_.clear();
        open_watcher(now);  // says why in the state, or watches what the path names now
      }
    }
    if (watcher_ && rescan_at_ns_ && now >= rescan_at_ns_) {
      rescan_at_ns_ = 0;
      if (auto scanned = watcher_->rescan(); !scanned) set_state(scanned.error().message());
    }
    run_due(monotonic_ns());
    now = monotonic_ns();
    std::array<pollfd, 2> fds{};
    fds[0] = {.fd = owner_.stop_event_.get(), .events = POLLIN, .revents = 0};
    fds[1] = {.fd = watcher_ ? watcher_->fd() : -1, .events = POLLIN, .revents = 0};
    const int ready = retry_eintr([&] { return ::poll(fds.data(), fds.size(), poll_timeout_ms(now)); });
    if (ready < 0) {
      log_line(LogLevel::kError, "file trigger " + owner_.definition_.id() + ": poll failed");
      return;
    }
    if (fds[0].revents) return;  // stop()
    if (watcher_ && fds[1].revents) {
      if (auto read = watcher_->process_events(); !read) {
        set_state(read.error().message() + "; retrying");
        watcher_.reset();
      }
    }
    if (watcher_ && watcher_->root_gone()) {
      set_state("watch directory " + spec_.watch_dir() + " is gone; retrying");
      watcher_.reset();
      reopen_at_ns_ = monotonic_ns() + to_ns(settings_.reopen_interval);
    }
    if (watcher_ && refusal_.empty()) {
      const bool limited = watcher_->over_limit();
      const std::lock_guard lock(owner_.state_mutex_);
      owner_.state_ = limited ? "active; some directories are not watched (limit " +
                                    std::to_string(settings_.max_directories) + " or the kernel's)"
                              : "active";
      if (skipped_count_)
        owner_.state_ += "; " + std::to_string(skipped_count_) + " files skipped: not valid S3 keys";
    }
  }
}

FileTrigger::FileTrigger(api::Trigger definition, UniqueFd stop_event)
    : definition_(std::move(definition)),
      stop_event_(std::move(stop_event)),
      state_("starting"),
      delivered_(definition_.delivered()) {}

Result<std::unique_ptr<FileTrigger>> FileTrigger::start(const api::Trigger& definition,
                                                         const std::string& database_path,
                                                         EventQueue& queue,
                                                         const FileTriggerSettings& settings) {
  if (!definition.has_file()) return plain_error("start file trigger " + definition.id(), "not a file trigger");
  UniqueFd stop_event(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event) return os_error("eventfd", "file trigger " + definition.id());
  std::unique_ptr<FileTrigger> trigger(new FileTrigger(definition, std::move(stop_event)));
  trigger->loop_ = std::make_unique<Loop>(*trigger, database_path, queue, settings);
  try {
    trigger->thread_ = std::thread([loop = trigger->loop_.get()] { loop->run(); });
    trigger->running_ = true;
  } catch (const std::system_error& e) {
    return plain_error("start the thread of file trigger " + definition.id(), e.what());
  }
  return trigger;
}

FileTrigger::~FileTrigger() { stop(); }

void FileTrigger::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  const uint64_t one = 1;
  (void)!::write(stop_event_.get(), &one, sizeof one);  // cannot fail: the counter is far from full
  thread_.join();
  running_ = false;
}

api::Trigger FileTrigger::describe() const {
  api::Trigger described = definition_;
  {
    const std::lock_guard lock(state_mutex_);
    described.set_state(running_ ? state_ : "stopped");
  }
  described.set_delivered(delivered_.load());
  return described;
}

}  // namespace sprout::events
