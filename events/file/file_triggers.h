// Every file trigger of sproutd: their definitions, persisted in the event
// database (table file_triggers), one running FileTrigger each, and the
// mounts they give their functions' sandboxes (the watched directory,
// read-only at /mnt/<bucket>).
//
// Thread-safe: every call from any thread. The hooks are called without the
// manager's lock held, from the calling thread.
#pragma once

#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "events/event_sink.h"
#include "events/file/file_trigger.h"

namespace sprout::events {

class Database;

// One read-only mount a function's sandboxes need.
struct FileMount {
  std::string host_dir;  // the watched directory
  std::string bucket;    // mounted at /mnt/<bucket>
  bool operator==(const FileMount&) const = default;
  auto operator<=>(const FileMount&) const = default;
};

// Why a call was refused, as the API answers it.
struct TriggerRefusal {
  api::Status status = api::INVALID_ARGUMENT;  // INVALID_ARGUMENT, NOT_FOUND, INTERNAL
  std::string message;
};

class FileTriggers {
 public:
  struct Hooks {
    // Whether a function of that name is deployed (add() refuses others).
    std::function<bool(const std::string& function)> function_exists;
    // The mounts of `function` (mounts_of) changed: a trigger was added or
    // removed. Optional.
    std::function<void(const std::string& function)> mounts_changed;
  };
  struct Options {
    std::string database_path;  // <state>/events.db
    size_t max_triggers = 64;   // each holds a thread and an inotify instance
    FileTriggerSettings trigger;
  };

  // Opens the database (creating the tables) and loads the definitions;
  // nothing runs before start().
  static Result<std::unique_ptr<FileTriggers>> open(Options options, EventQueue& queue, Hooks hooks);
  ~FileTriggers();  // stop()
  FileTriggers(const FileTriggers&) = delete;
  FileTriggers& operator=(const FileTriggers&) = delete;

  // Starts every loaded trigger: each first scans its directory and delivers
  // what arrived while none ran. A trigger that cannot start says so in its
  // state; the others run.
  void start();
  // Stops every trigger (each finishes the enqueue it is in). Idempotent;
  // the definitions stay.
  void stop();

  // Checks, stores and (once started) runs `trigger` (a `file` one). Its id
  // is kept if given ([a-zA-Z0-9_-]{1,64}, unused) or made up. Answers the
  // stored definition.
  std::expected<api::Trigger, TriggerRefusal> add(const api::Trigger& trigger);
  // The triggers of `function` (empty: all), by id, with state and count.
  std::vector<api::Trigger> list(const std::string& function) const;
  // Whether `id` names one of these triggers (the other kinds live elsewhere).
  bool contains(const std::string& id) const;
  // Stops and forgets the trigger and its cursor. NOT_FOUND if unknown.
  std::expected<void, TriggerRefusal> remove(const std::string& id);
  // Removes every trigger of `function` (it was deleted).
  Result<void> remove_function(const std::string& function);
  // The distinct (directory, bucket) pairs of `function`'s triggers, sorted.
  std::vector<FileMount> mounts_of(const std::string& function) const;

 private:
  struct Entry {
    api::Trigger definition;
    std::unique_ptr<FileTrigger> running;  // null before start() or if it failed
    std::string start_error;
  };

  FileTriggers(Options options, EventQueue& queue, Hooks hooks, std::unique_ptr<Database> db);
  std::vector<FileMount> mounts_locked(const std::string& function) const;
  void start_locked(Entry& entry);
  Result<void> delete_rows(const std::string& id);
  void notify_if_changed(const std::string& function, const std::vector<FileMount>& before);

  const Options options_;
  EventQueue& queue_;
  const Hooks hooks_;
  mutable std::mutex mutex_;
  std::unique_ptr<Database> db_;
  std::map<std::string, Entry> triggers_;  // by id
  bool started_ = false;
};

}  // namespace sprout::events
