#include "events/nats/trigger_store.h"

namespace sprout::events {

Result<std::unique_ptr<NatsTriggerStore>> NatsTriggerStore::open(
    const std::string& database_path) {
  Result<std::unique_ptr<Database>> database = Database::open(database_path, Durability::kFull);
  if (!database) return std::unexpected(database.error());
  if (Result<void> schema = (*database)->exec(
          "CREATE TABLE IF NOT EXISTS nats_triggers ("
          " id TEXT PRIMARY KEY,"
          " function TEXT NOT NULL,"
          " created_unix_ms INTEGER NOT NULL,"
          " definition BLOB NOT NULL)");
      !schema) {
    return std::unexpected(schema.error());
  }
  return std::unique_ptr<NatsTriggerStore>(new NatsTriggerStore(std::move(*database)));
}

Result<std::vector<api::Trigger>> NatsTriggerStore::load() {
  Result<Statement> select =
      database_->prepare("SELECT id, definition FROM nats_triggers ORDER BY id");
  if (!select) return std::unexpected(select.error());
  std::vector<api::Trigger> triggers;
  while (true) {
    Result<bool> row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    api::Trigger trigger;
    if (!trigger.ParseFromString(select->column_text(1)) || !trigger.has_nats()) {
      return plain_error("read NATS trigger " + select->column_text(0),
                         "its stored definition is not a NATS trigger");
    }
    triggers.push_back(std::move(trigger));
  }
  return triggers;
}

Result<void> NatsTriggerStore::insert(const api::Trigger& trigger) {
  Result<Statement> exists = database_->prepare("SELECT 1 FROM nats_triggers WHERE id = ?");
  if (!exists) return std::unexpected(exists.error());
  exists->bind(1, trigger.id());
  Result<bool> found = exists->step();
  if (!found) return std::unexpected(found.error());
  if (*found) return plain_error("add NATS trigger", "a trigger with id " + trigger.id() + " exists");

  api::Trigger stored = trigger;
  stored.clear_state();
  stored.clear_delivered();
  Result<Statement> insert = database_->prepare(
      "INSERT INTO nats_triggers (id, function, created_unix_ms, definition) VALUES (?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
  insert->bind(1, stored.id())
      .bind(2, stored.function())
      .bind(3, stored.created_unix_ms())
      .bind_blob(4, stored.SerializeAsString());
  return insert->run();
}

Result<bool> NatsTriggerStore::erase(const std::string& id) {
  Result<Statement> erase = database_->prepare("DELETE FROM nats_triggers WHERE id = ?");
  if (!erase) return std::unexpected(erase.error());
  erase->bind(1, id);
  if (Result<void> done = erase->run(); !done) return std::unexpected(done.error());
  return database_->changes() > 0;
}

}  // namespace sprout::events
