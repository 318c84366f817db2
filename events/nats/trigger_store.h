// The NATS trigger definitions on disk: table nats_triggers of the event
// database, one row per trigger with its definition (api::Trigger, without
// its run-time state) serialized. Written with full durability: a trigger
// that was added is never forgotten. Not thread-safe: its owner locks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "events/database.h"

namespace sprout::events {

class NatsTriggerStore {
 public:
  static Result<std::unique_ptr<NatsTriggerStore>> open(const std::string& database_path);

  // Every trigger, by id.
  Result<std::vector<api::Trigger>> load();
  // Fails when the id is taken.
  Result<void> insert(const api::Trigger& trigger);
  // false: no such trigger.
  Result<bool> erase(const std::string& id);

 private:
  explicit NatsTriggerStore(std::unique_ptr<Database> database)
      : database_(std::move(database)) {}
  std::unique_ptr<Database> database_;
};

}  // namespace sprout::events
