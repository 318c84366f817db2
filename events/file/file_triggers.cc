#include "events/file/file_triggers.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "base/log.h"
#include "events/database.h"
#include "events/file/file_trigger_spec.h"
#include "events/source_id.h"
#include "snapshot/read_only_mount.h"

namespace sprout::events {
namespace {

std::string generated_id() {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::random_device random;
  std::string id = "file-";
  for (int i = 0; i < 16; ++i) id.push_back(kDigits[random() % 16]);
  return id;
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unexpected<TriggerRefusal> refuse(api::Status status, std::string message) {
  return std::unexpected(TriggerRefusal{.status = status, .message = std::move(message)});
}

}  // namespace

FileTriggers::FileTriggers(Options options, EventQueue& queue, Hooks hooks,
                           std::unique_ptr<Database> db)
    : options_(std::move(options)), queue_(queue), hooks_(std::move(hooks)), db_(std::move(db)) {}

Result<std::unique_ptr<FileTriggers>> FileTriggers::open(Options options, EventQueue& queue,
                                                         Hooks hooks) {
  auto db = Database::open(options.database_path, Durability::kFull);
  if (!db) return std::unexpected(db.error());
  if (auto created = create_file_trigger_tables(**db); !created) return std::unexpected(created.error());
  std::unique_ptr<FileTriggers> triggers(
      new FileTriggers(std::move(options), queue, std::move(hooks), std::move(*db)));
  auto select = triggers->db_->prepare("SELECT id, definition, delivered FROM file_triggers");
  if (!select) return std::unexpected(select.error());
  for (;;) {
    auto row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    Entry entry;
    const std::string id = select->column_text(0);
    if (!entry.definition.ParseFromString(select->column_text(1)) || !entry.definition.has_file()) {
      // Kept, so that the id stays taken and `trigger rm` can remove it.
      log_line(LogLevel::kError, "file trigger " + id + ": its stored definition is unreadable");
      entry.definition.Clear();
      entry.definition.set_id(id);
      entry.start_error = "its stored definition is unreadable; remove it";
    }
    entry.definition.set_delivered(static_cast<uint64_t>(select->column_int(2)));
    triggers->triggers_.emplace(id, std::move(entry));
  }
  return triggers;
}

FileTriggers::~FileTriggers() { stop(); }

void FileTriggers::start_locked(Entry& entry) {
  if (entry.running || !entry.start_error.empty()) return;
  auto running = FileTrigger::start(entry.definition, options_.database_path, queue_, options_.trigger);
  if (!running) {
    entry.start_error = running.error().message();
    log_line(LogLevel::kError, "file trigger " + entry.definition.id() + ": " + entry.start_error);
    return;
  }
  entry.running = std::move(*running);
}

void FileTriggers::start() {
  const std::lock_guard lock(mutex_);
  started_ = true;
  for (auto& [id, entry] : triggers_) start_locked(entry);
}

void FileTriggers::stop() {
  // Joined without mutex_ held: a trigger busy with a file must not block
  // list() or remove() meanwhile.
  std::vector<std::pair<std::string, std::unique_ptr<FileTrigger>>> stopping;
  {
    const std::lock_guard lock(mutex_);
    started_ = false;
    for (auto& [id, entry] : triggers_)
      if (entry.running) stopping.emplace_back(id, std::move(entry.running));
  }
  for (auto& [id, running] : stopping) running->stop();
  const std::lock_guard lock(mutex_);
  for (auto& [id, running] : stopping)
    if (auto it = triggers_.find(id); it != triggers_.end())
      it->second.definition.set_delivered(running->describe().delivered());
}

std::expected<api::Trigger, TriggerRefusal> FileTriggers::add(const api::Trigger& trigger) {
  if (!trigger.has_file()) return refuse(api::INVALID_ARGUMENT, "not a file trigger (no watch directory)");
  if (trigger.function().empty()) return refuse(api::INVALID_ARGUMENT, "a trigger needs a function");
  if (!trigger.id().empty() && !is_valid_source_id(trigger.id()))
    return refuse(api::INVALID_ARGUMENT,
                  "trigger id \"" + trigger.id() + "\" is invalid: use 1 to 64 of [a-zA-Z0-9_-]");
  if (hooks_.function_exists && !hooks_.function_exists(trigger.function()))
    return refuse(api::NOT_FOUND, "no function named " + trigger.function());
  auto spec = validate_file_trigger(trigger.file());
  if (!spec) return refuse(api::INVALID_ARGUMENT, spec.error().message());

  api::Trigger stored;
  std::vector<FileMount> before;
  {
    const std::lock_guard lock(mutex_);
    if (triggers_.size() >= options_.max_triggers)
      return refuse(api::INVALID_ARGUMENT,
                    "at most " + std::to_string(options_.max_triggers) + " file triggers");
    std::string id = trigger.id();
    if (id.empty()) {
      do id = generated_id();
      while (triggers_.contains(id));
    } else if (triggers_.contains(id)) {
      return refuse(api::INVALID_ARGUMENT, "a trigger with id " + id + " exists already");
    }
    before = mounts_locked(trigger.function());
    for (const FileMount& mount : before)
      if (mount.bucket == spec->bucket() && mount.host_dir != spec->watch_dir())
        return refuse(api::INVALID_ARGUMENT,
                      "function " + trigger.function() + " already mounts " + mount.host_dir +
                          " as bucket " + mount.bucket + "; give this directory another --bucket");
    // A sandbox takes at most kMaxReadOnlyMounts: one more would make the
    // whole set refused, and the function lose every /mnt.
    const FileMount wanted{spec->watch_dir(), spec->bucket()};
    if (!std::binary_search(before.begin(), before.end(), wanted) &&
        before.size() >= kMaxReadOnlyMounts)
      return refuse(api::INVALID_ARGUMENT,
                    "function " + trigger.function() + " already mounts " +
                        std::to_string(before.size()) + " directories, the most a sandbox takes (" +
                        std::to_string(kMaxReadOnlyMounts) +
                        "); watch one of them (another --prefix) or remove a trigger");
    stored.set_id(id);
    stored.set_function(trigger.function());
    *stored.mutable_file() = *spec;
    stored.set_created_unix_ms(wall_clock_ms());
    auto insert = db_->prepare(
        "INSERT INTO file_triggers (id, function, definition, created_unix_ms) VALUES (?, ?, ?, ?)");
    if (!insert) return refuse(api::INTERNAL, insert.error().message());
    insert->bind(1, id).bind(2, stored.function()).bind_blob(3, stored.SerializeAsString()).bind(4, stored.created_unix_ms());
    if (auto ran = insert->run(); !ran) return refuse(api::INTERNAL, ran.error().message());
    Entry& entry = triggers_[id];
    entry.definition = stored;
    if (started_) start_locked(entry);
    stored = entry.running ? entry.running->describe() : entry.definition;
    if (!entry.running) stored.set_state(started_ ? entry.start_error : "stopped");
  }
  notify_if_changed(trigger.function(), before);
  return stored;
}

std::vector<api::Trigger> FileTriggers::list(const std::string& function) const {
  const std::lock_guard lock(mutex_);
  std::vector<api::Trigger> found;
  for (const auto& [id, entry] : triggers_) {
    if (!function.empty() && entry.definition.function() != function) continue;
    if (entry.running) {
      found.push_back(entry.running->describe());
    } else {
      found.push_back(entry.definition);
      found.back().set_state(entry.start_error.empty() ? "stopped" : entry.start_error);
    }
  }
  return found;
}

bool FileTriggers::contains(const std::string& id) const {
  const std::lock_guard lock(mutex_);
  return triggers_.contains(id);
}

Result<void> FileTriggers::delete_rows(const std::string& id) {
  auto transaction = db_->begin();
  if (!transaction) return std::unexpected(transaction.error());
  for (const char* sql : {"DELETE FROM file_delivered WHERE trigger_id = ?",
                          "DELETE FROM file_triggers WHERE id = ?"}) {
    auto remove = db_->prepare(sql);
    if (!remove) return std::unexpected(remove.error());
    remove->bind(1, id);
    if (auto ran = remove->run(); !ran) return ran;
  }
  return transaction->commit();
}

std::expected<void, TriggerRefusal> FileTriggers::remove(const std::string& id) {
  std::string function;
  std::vector<FileMount> before;
  std::unique_ptr<FileTrigger> running;
  {
    const std::lock_guard lock(mutex_);
    const auto it = triggers_.find(id);
    if (it == triggers_.end()) return refuse(api::NOT_FOUND, "no file trigger with id " + id);
    function = it->second.definition.function();
    before = mounts_locked(function);
    // The rows go first, while it may still run: a delivery after that is
    // refused inside the queue's transaction (its trigger row is missing),
    // so no cursor outlives the trigger.
    if (auto deleted = delete_rows(id); !deleted) return refuse(api::INTERNAL, deleted.error().message());
    running = std::move(it->second.running);
    triggers_.erase(it);
  }
  // Joined without mutex_ held: a trigger busy with a huge file must not
  // block every other call meanwhile.
  running.reset();
  notify_if_changed(function, before);
  return {};
}

Result<void> FileTriggers::remove_function(const std::string& function) {
  std::vector<std::string> ids;
  {
    const std::lock_guard lock(mutex_);
    for (const auto& [id, entry] : triggers_)
      if (entry.definition.function() == function) ids.push_back(id);
  }
  for (const std::string& id : ids) {
    auto removed = remove(id);
    if (!removed && removed.error().status != api::NOT_FOUND)
      return plain_error("remove file trigger " + id, removed.error().message);
  }
  return {};
}

std::vector<FileMount> FileTriggers::mounts_locked(const std::string& function) const {
  std::vector<FileMount> mounts;
  for (const auto& [id, entry] : triggers_) {
    if (entry.definition.function() != function || !entry.definition.has_file()) continue;
    mounts.push_back({entry.definition.file().watch_dir(), entry.definition.file().bucket()});
  }
  std::sort(mounts.begin(), mounts.end());
  mounts.erase(std::unique(mounts.begin(), mounts.end()), mounts.end());
  return mounts;
}

std::vector<FileMount> FileTriggers::mounts_of(const std::string& function) const {
  const std::lock_guard lock(mutex_);
  return mounts_locked(function);
}

void FileTriggers::notify_if_changed(const std::string& function,
                                     const std::vector<FileMount>& before) {
  if (!hooks_.mounts_changed) return;
  if (mounts_of(function) != before) hooks_.mounts_changed(function);
}

}  // namespace sprout::events
